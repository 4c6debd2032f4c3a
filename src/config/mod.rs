//! Configuration: one TOML file, every key overridable from the environment, checked at startup.
//!
//! Loading is [`LoadedConfig::load`]; the shape and defaults are in [`model`]. Each component
//! compiles its section into runtime form once (matchers, pre-rendered headers), and reports a
//! problem through [`LoadedConfig::error`], which names where the offending key was set.

mod cache;
mod demo;
mod duration;
mod env;
mod load;
pub mod model;
mod packaging;
mod s3;
mod validate;

pub use env::stray_variables;
pub use load::{ConfigError, ENV_PREFIX, LoadedConfig};
pub use model::*;
pub use validate::MIN_BODY_BUFFER_BYTES;

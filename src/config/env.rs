//! `VOD_ORIGIN_*` variables that set no key, named in a warning at startup and by
//! `check-config`. A key's variable is `VOD_ORIGIN_SECTION__KEY`, with two underscores between
//! levels; a typo with one (`VOD_ORIGIN_SERVER_LISTEN`) would otherwise be ignored without a
//! word. They are never refused: Kubernetes injects `VOD_ORIGIN_PORT` and the like for a
//! Service named vod-origin, and `VOD_ORIGIN_CONFIG` names the file itself.

use super::load::ENV_PREFIX;
use super::model::Config;

/// The variable that names the configuration file.
const CONFIG_FILE_VARIABLE: &str = "VOD_ORIGIN_CONFIG";

/// A warning for each variable in `names` that has the prefix and sets no key, with the
/// variable that would set the key it seems to mean, if any.
pub fn stray_variables(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let shape = toml::Value::try_from(Config::default()).unwrap_or(toml::Value::Boolean(false));
    let mut stray: Vec<String> = names
        .into_iter()
        .filter(|name| name.starts_with(ENV_PREFIX) && !name.contains("__") && name != CONFIG_FILE_VARIABLE)
        .collect();
    stray.sort();
    stray.into_iter().map(|name| warning(&name, &shape)).collect()
}

fn warning(name: &str, shape: &toml::Value) -> String {
    let rest = name[ENV_PREFIX.len()..].to_ascii_lowercase();
    match meant(&rest, shape) {
        Some(path) => format!(
            "{name} sets no configuration key and is ignored; did you mean {ENV_PREFIX}{}? (levels are separated by two underscores)",
            path.join("__").to_ascii_uppercase()
        ),
        None => format!("{name} sets no configuration key and is ignored"),
    }
}

/// The key path `rest` spells with single underscores (`server_max_connections` →
/// `server.max_connections`), following the sections of the configuration's shape; `None` when
/// it names no section.
fn meant(rest: &str, shape: &toml::Value) -> Option<Vec<String>> {
    let mut path = Vec::new();
    let (mut table, mut rest) = (shape.as_table()?, rest);
    loop {
        let section = table
            .iter()
            .filter(|(_, value)| value.is_table())
            .find_map(|(key, value)| Some((key, rest.strip_prefix(key.as_str())?.strip_prefix('_')?, value)));
        match section {
            Some((key, after, value)) => {
                path.push(key.clone());
                (table, rest) = (value.as_table()?, after);
            }
            None if path.is_empty() => return None,
            None => {
                path.push(rest.to_owned());
                return Some(path);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_underscore_typos_are_named_with_the_variable_meant() {
        let names = ["VOD_ORIGIN_SERVER_LISTEN", "VOD_ORIGIN_STORAGE_S3_BUCKET", "VOD_ORIGIN_PORT", "OTHER_THING"];
        let warnings = stray_variables(names.map(String::from));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("VOD_ORIGIN_PORT sets no configuration key"), "{warnings:?}");
        assert!(!warnings[0].contains("did you mean"), "{warnings:?}");
        assert!(warnings[1].contains("did you mean VOD_ORIGIN_SERVER__LISTEN?"), "{warnings:?}");
        assert!(warnings[2].contains("did you mean VOD_ORIGIN_STORAGE__S3__BUCKET?"), "{warnings:?}");
    }

    #[test]
    fn keys_and_the_file_variable_are_not_stray() {
        let names = ["VOD_ORIGIN_SERVER__LISTEN", "VOD_ORIGIN_CONFIG", "VOD_ORIGIN_ACCESS__SECRETS"];
        assert!(stray_variables(names.map(String::from)).is_empty());
    }
}

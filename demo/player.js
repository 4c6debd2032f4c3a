// The demo page: plays the sample as HLS (hls.js) from its segments in the folder, as HLS and as
// DASH (dash.js) packaged on the fly from the MP4, and as progressive MP4, from the media origin,
// and lists every request the players make with what the browser lets the page read of it.
"use strict";

const HEADERS = ["content-range", "etag", "cache-control", "vary", "access-control-allow-origin", "x-cache"];
const rows = document.querySelector("#requests tbody");
// What the browser test reads: the players' progress and the table's rows.
const PLAYERS = ["hls", "packagedHls", "packagedDash", "mp4"];
window.demo = { requests: [] };
for (const player of PLAYERS) window.demo[player] = { state: "loading", time: 0, duration: 0, ended: false };

function cell(row, text, hidden) {
  const td = row.insertCell();
  td.textContent = text;
  if (hidden) td.className = "hidden";
}

// One row: `seen` holds what the response showed (status 0: the browser refused it).
function addRow(player, url, range, seen, firstByteMs) {
  const request = { player, path: new URL(url).pathname, range, ...seen, firstByteMs };
  window.demo.requests.push(request);
  const row = rows.insertRow();
  if (!seen.status) row.className = "failed";
  cell(row, String(window.demo.requests.length));
  cell(row, player);
  cell(row, request.path);
  cell(row, seen.status ? String(seen.status) : "blocked (CORS)");
  cell(row, range || "-");
  for (const name of HEADERS) {
    const value = seen.headers[name];
    cell(row, value ?? "—", value === undefined);
  }
  cell(row, firstByteMs === undefined ? "-" : `${firstByteMs.toFixed(1)} ms`);
}

function setState(player, state, failed) {
  window.demo[player].state = state;
  const element = document.getElementById(`${player}-state`);
  element.textContent = state;
  element.classList.toggle("failed", Boolean(failed));
}

// Reads the headers of a finished XMLHttpRequest or fetch Response; null where not exposed.
function headersOf(get) {
  const headers = {};
  for (const name of HEADERS) {
    const value = get(name);
    if (value !== null) headers[name] = value;
  }
  return headers;
}

function playHls(player, source, label) {
  const video = document.getElementById(player);
  if (!window.Hls || !Hls.isSupported()) {
    video.src = source; // Safari plays HLS itself
    return video;
  }
  const hls = new Hls({
    xhrSetup(xhr, url) {
      let sent = 0;
      let firstByte;
      xhr.addEventListener("loadstart", () => { sent = performance.now(); });
      xhr.addEventListener("readystatechange", () => {
        if (xhr.readyState === XMLHttpRequest.HEADERS_RECEIVED) firstByte = performance.now() - sent;
      });
      xhr.addEventListener("loadend", () => {
        const seen = { status: xhr.status, headers: xhr.status ? headersOf((n) => xhr.getResponseHeader(n)) : {} };
        addRow(label, url, null, seen, firstByte);
      });
    },
  });
  hls.on(Hls.Events.ERROR, (_, data) => {
    if (data.fatal) setState(player, `failed: ${data.details}`, true);
  });
  hls.loadSource(source);
  hls.attachMedia(video);
  return video;
}

function playDash(player, source) {
  const video = document.getElementById(player);
  if (!window.dashjs) {
    setState(player, "failed: dash.js did not load", true);
    return video;
  }
  const dash = dashjs.MediaPlayer().create();
  // Warnings and errors in the browser's console, where a player developer looks first.
  dash.updateSettings({ debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING } });
  dash.addResponseInterceptor((response) => {
    const headers = {};
    for (const [name, value] of Object.entries(response.headers || {})) {
      if (HEADERS.includes(name.toLowerCase())) headers[name.toLowerCase()] = value;
    }
    addRow("dash.js", response.url || response.request.url, null, { status: response.status, headers });
    return Promise.resolve(response);
  });
  dash.on(dashjs.MediaPlayer.events.ERROR, (event) => {
    setState(player, `failed: ${event.error && event.error.message ? event.error.message : "error"}`, true);
  });
  dash.initialize(video, source, true);
  return video;
}

// The video element's own requests cannot be read by the page: one of its ranges is asked
// again with fetch, so the table shows what a player gets for a range.
async function probeMp4(url) {
  const range = "bytes=0-1023";
  const sent = performance.now();
  try {
    const response = await fetch(url, { headers: { Range: range }, cache: "no-store" });
    const firstByte = performance.now() - sent;
    await response.arrayBuffer();
    addRow("fetch (MP4 range)", url, range, { status: response.status, headers: headersOf((n) => response.headers.get(n)) }, firstByte);
  } catch {
    addRow("fetch (MP4 range)", url, range, { status: 0, headers: {} });
  }
}

function watch(player, video) {
  video.addEventListener("timeupdate", () => {
    window.demo[player].time = video.currentTime;
    window.demo[player].duration = video.duration || 0;
    if (video.currentTime > 0) setState(player, `playing at ${video.currentTime.toFixed(1)} s`);
  });
  video.addEventListener("ended", () => {
    window.demo[player].ended = true;
    setState(player, "ended");
  });
  video.addEventListener("error", () => setState(player, "failed: the video element gave up", true));
  video.play().catch(() => {}); // muted: autoplay is allowed; if not, the controls are there
}

async function main() {
  const { port } = await (await fetch("/origin.json")).json();
  const origin = `https://localhost:${port}`;
  document.getElementById("page-origin").textContent = location.origin;
  document.getElementById("media-origin").textContent = origin;
  const other = location.hostname === "localhost" ? "127.0.0.1" : "localhost";
  const link = document.getElementById("switch");
  link.href = `${location.protocol}//${other}:${location.port}/${location.search}`;
  link.textContent = other === "127.0.0.1"
    ? "Open this page from https://127.0.0.1 instead: an origin the development rules refuse."
    : "Back to https://localhost, an origin the rules allow.";
  // ?mp4=<key> packages and plays another MP4 of the origin's (e.g. ?mp4=films/trailer.mp4).
  const key = new URLSearchParams(location.search).get("mp4") || "sample/sample.mp4";
  for (const id of ["packagedHls-key", "packagedDash-key", "mp4-key"]) document.getElementById(id).textContent = key;
  watch("hls", playHls("hls", `${origin}/sample/hls/index.m3u8`, "hls.js"));
  watch("packagedHls", playHls("packagedHls", `${origin}/hls/${key}/master.m3u8`, "hls.js (packaged)"));
  watch("packagedDash", playDash("packagedDash", `${origin}/dash/${key}/manifest.mpd`));
  const mp4 = document.getElementById("mp4");
  mp4.src = `${origin}/${key}`;
  mp4.crossOrigin = "anonymous"; // a CORS request, as a player that reads pixels would make
  watch("mp4", mp4);
  await probeMp4(mp4.src);
}

main();

// The preview page's behaviour: shows /settings in the controls, posts each change to /control
// as JSON, polls /stats every second, and reconnects the stream when it drops.
"use strict";
const $ = (id) => document.getElementById(id);
const ranges = ["blur_strength", "feather_px", "shrink_px", "grow_px", "edge_low", "edge_high",
                "temporal", "harmonize", "light_wrap_px"];
const presets = ["blur", "green", "blue", "black", "white", "gray"];

function show(s) {
  for (const k of ranges) {
    $(k).value = s[k];
    $(k).nextElementSibling.value = s[k];
  }
  $("mirror").checked = !!s.mirror;
  $("poisson").checked = !!s.poisson;
  $("feather_mode").value = s.feather_mode;
  const bg = String(s.background);
  if (presets.includes(bg.toLowerCase())) {
    $("background").value = bg.toLowerCase();
  } else {
    $("background").value = "custom";
    $("background_custom").value = bg;
  }
}

async function load() {
  try {
    const r = await fetch("/settings", {cache: "no-store"});
    if (r.ok) show(await r.json());
  } catch (e) {
    // The next change or reload tries again.
  }
}

async function send(change) {
  try {
    const r = await fetch("/control", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(change),
    });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) {
      $("error").textContent = j.error || ("HTTP " + r.status);
      load();
      return;
    }
    $("error").textContent = "";
    show(j);
  } catch (e) {
    $("error").textContent = "server unreachable: " + e;
  }
}

for (const k of ranges) {
  $(k).addEventListener("input", (e) => { e.target.nextElementSibling.value = e.target.value; });
  $(k).addEventListener("change", (e) => send({[k]: parseFloat(e.target.value)}));
}
$("mirror").addEventListener("change", (e) => send({mirror: e.target.checked}));
$("poisson").addEventListener("change", (e) => send({poisson: e.target.checked}));
$("feather_mode").addEventListener("change", (e) => send({feather_mode: e.target.value}));
$("background").addEventListener("change", (e) => {
  if (e.target.value !== "custom") send({background: e.target.value});
  else $("background_custom").focus();
});
const setCustom = () => {
  const v = $("background_custom").value.trim();
  if (v) send({background: v});
};
$("background_set").addEventListener("click", setCustom);
$("background_custom").addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    setCustom();
  }
});
$("controls").addEventListener("submit", (e) => e.preventDefault());
$("stream").addEventListener("error", () => {
  setTimeout(() => { $("stream").src = "/stream.mjpg?t=" + Date.now(); }, 1000);
});

const num = (x, d = 1) => (typeof x === "number" && isFinite(x)) ? x.toFixed(d) : "-";

async function stats() {
  try {
    const r = await fetch("/stats", {cache: "no-store"});
    const s = await r.json();
    const w = s.last_second || s;
    let t = "input    " + num(w.input_fps) + " fps\n" +
            "output   " + num(w.output_fps) + " fps\n" +
            "dropped  " + (s.dropped ?? "-") + "\n" +
            "latency  p50 " + num(w.latency_ms_p50) + "  p95 " + num(w.latency_ms_p95) +
            "  max " + num(w.latency_ms_max) + " ms\n" +
            "cpu      " + num(w.cpu_percent, 0) + " %\n" +
            "memory   " + num(s.rss_mb, 0) + " MB";
    for (const [k, v] of Object.entries(w.stages || {}))
      t += "\n" + k.padEnd(9) + num(typeof v === "number" ? v : v.ms, 2) + " ms";
    $("stats").textContent = t;
  } catch (e) {
    $("stats").textContent = "stats unavailable";
  }
}

load();
stats();
setInterval(stats, 1000);

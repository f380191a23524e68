// A small chart of a connector's successes and errors per minute, drawn as SVG bars.

import {svg} from "./dom.js";

const WIDTH = 360; // two pixels per minute of the 3 hours
const HEIGHT = 40;

/** Bars per minute from `start` to `end`: successes from the bottom, errors stacked above. */
export function activityChart(stats, start, end) {
  const first = Math.floor(new Date(start).getTime() / 60000);
  const last = Math.floor(new Date(end).getTime() / 60000);
  const span = Math.max(1, last - first + 1);
  const perMinute = new Map();
  for (const entry of stats.minutes) {
    perMinute.set(Math.floor(new Date(entry.minute).getTime() / 60000), entry);
  }
  const highest = Math.max(1, ...stats.minutes.map((entry) => entry.successes + entry.errors));
  const step = WIDTH / span;
  const bars = [];
  for (const [minute, entry] of perMinute) {
    const x = ((minute - first) * step).toFixed(2);
    const okHeight = (entry.successes / highest) * HEIGHT;
    const errorHeight = (entry.errors / highest) * HEIGHT;
    const width = Math.max(2, step).toFixed(2);
    if (okHeight) {
      bars.push(svg("rect", {class: "bar-ok", x, width, y: HEIGHT - okHeight, height: okHeight}));
    }
    if (errorHeight) {
      bars.push(svg("rect", {
        class: "bar-error", x, width, y: HEIGHT - okHeight - errorHeight, height: errorHeight,
      }));
    }
  }
  const summary = `Pushes per minute over the last 3 hours: ${stats.successCount} successes `
    + `(green), ${stats.errorCount} errors (red), at most ${highest} in one minute`;
  return svg("svg", {
    class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: WIDTH, height: HEIGHT,
    role: "img", "aria-label": summary, preserveAspectRatio: "none",
  }, svg("title", null, summary), svg("line", {class: "axis", x1: 0, x2: WIDTH, y1: HEIGHT, y2: HEIGHT}),
  bars);
}

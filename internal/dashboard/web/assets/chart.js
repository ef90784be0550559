// Line charts drawn as SVG into an <svg> whose viewBox sets the drawing
// size, so that a chart scales with its panel. Each draw replaces the
// chart's content. A series is one <path> however many points it has. Only
// a series with markers also gets one <circle> a point, with data-series
// and data-x attributes so that a test can count them.
"use strict";

window.ringtrainChart = (function () {
  const svgNS = "http://www.w3.org/2000/svg";
  // The right margin leaves room for the gap bracket beside the last epoch.
  const margin = { left: 58, right: 26, top: 14, bottom: 38 };

  function node(name, attrs, text) {
    const el = document.createElementNS(svgNS, name);
    for (const [key, value] of Object.entries(attrs || {})) {
      el.setAttribute(key, String(value));
    }
    if (text !== undefined) {
      el.textContent = text;
    }
    return el;
  }

  // linearTicks returns round values (1, 2 or 5 times a power of ten)
  // about count steps apart that cover [lo, hi], and the step.
  function linearTicks(lo, hi, count) {
    const raw = (hi - lo) / count;
    const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
    const normalized = raw / magnitude;
    let factor = 10;
    if (normalized < 1.5) {
      factor = 1;
    } else if (normalized < 3) {
      factor = 2;
    } else if (normalized < 7) {
      factor = 5;
    }
    const step = factor * magnitude;
    const ticks = [];
    const last = Math.ceil(hi / step - 1e-9);
    for (let i = Math.floor(lo / step + 1e-9); i <= last; i++) {
      ticks.push(Number((i * step).toPrecision(12)));
    }
    return { ticks, step };
  }

  // logTicks returns powers of ten covering [lo, hi], with 2 and 5 times
  // each power in between when the range spans two decades or fewer.
  function logTicks(lo, hi) {
    const first = Math.floor(Math.log10(lo));
    const last = Math.ceil(Math.log10(hi));
    const ticks = [];
    for (let k = first; k <= last; k++) {
      const base = Math.pow(10, k);
      const multiples = last - first <= 2 ? [1, 2, 5] : [1];
      for (const m of multiples) {
        const v = Number((m * base).toPrecision(12));
        if (v >= Math.pow(10, first) && v <= Math.pow(10, last)) {
          ticks.push(v);
        }
      }
    }
    return ticks;
  }

  function finite(points) {
    return points.filter((p) => Number.isFinite(p[0]) && Number.isFinite(p[1]));
  }

  // yDomain returns the y range, its ticks and a default tick format.
  function yDomain(axis, values) {
    if (axis.log) {
      const positive = values.filter((v) => v > 0);
      const lo = positive.length ? Math.min(...positive) : 0.01;
      const hi = positive.length ? Math.max(...positive) : 1;
      const ticks = logTicks(lo, hi);
      return { lo: ticks[0], hi: ticks[ticks.length - 1], ticks, decimals: null };
    }
    let lo = values.length ? Math.min(...values) : 0;
    let hi = values.length ? Math.max(...values) : 1;
    if (axis.min !== undefined) lo = Math.min(lo, axis.min);
    if (hi - lo < 1e-9) {
      hi = lo + Math.max(Math.abs(lo) * 0.1, 0.01);
    }
    const { ticks, step } = linearTicks(lo, hi, 5);
    let top = ticks[ticks.length - 1];
    if (axis.max !== undefined) top = Math.min(top, axis.max);
    const inside = ticks.filter((t) => t <= top + step * 1e-9);
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    return { lo: ticks[0], hi: Math.max(top, hi), ticks: inside, decimals };
  }

  function xDomain(axis, values) {
    let lo = axis.min !== undefined ? axis.min : Math.min(...values, 0);
    let hi = Math.max(axis.max !== undefined ? axis.max : lo, ...values);
    if (hi <= lo) {
      hi = lo + 1;
    }
    let { ticks } = linearTicks(lo, hi, 8);
    if (axis.integer) {
      ticks = ticks.filter((t) => Number.isInteger(t));
    }
    return { lo, hi, ticks: ticks.filter((t) => t >= lo && t <= hi) };
  }

  // draw renders spec into svg. spec holds:
  //   x: {min, max, integer, label}
  //   y: {min, max, log, label, format(value, decimals)}
  //   series: [{name, cls, points: [[x, y], ...], markers, describe(point)}]
  //   vlines: [{x, label}]   dashed vertical marks, such as epoch ends
  //   gap: {x, from, to, text}   a bracket between two values at x
  //   empty: text shown when no series has a point
  function draw(svg, spec) {
    const box = svg.viewBox.baseVal;
    const width = box.width;
    const height = box.height;
    const plot = {
      left: margin.left, right: width - margin.right,
      top: margin.top, bottom: height - margin.bottom,
    };
    svg.replaceChildren();

    const series = spec.series.map((s) => ({ ...s, points: finite(s.points) }));
    const xs = series.flatMap((s) => s.points.map((p) => p[0]));
    const ys = series.flatMap((s) => s.points.map((p) => p[1]));
    const xd = xDomain(spec.x, xs);
    const yd = yDomain(spec.y, ys);
    const format = spec.y.format || ((v, d) => (d === null ? String(v) : v.toFixed(d)));

    const sx = (v) => plot.left + ((v - xd.lo) / (xd.hi - xd.lo)) * (plot.right - plot.left);
    const ty = spec.y.log ? (v) => Math.log10(Math.max(v, yd.lo)) : (v) => v;
    const sy = (v) =>
      plot.bottom - ((ty(v) - ty(yd.lo)) / (ty(yd.hi) - ty(yd.lo))) * (plot.bottom - plot.top);

    const axes = node("g", { class: "axes" });
    for (const t of yd.ticks) {
      const y = sy(t).toFixed(1);
      axes.append(node("line", { class: "gridline", x1: plot.left, x2: plot.right, y1: y, y2: y }));
      axes.append(node("text", { class: "tick", x: plot.left - 6, y, "text-anchor": "end",
        "dominant-baseline": "middle" }, format(t, yd.decimals)));
    }
    for (const t of xd.ticks) {
      const x = sx(t).toFixed(1);
      axes.append(node("line", { class: "axis", x1: x, x2: x, y1: plot.bottom, y2: plot.bottom + 4 }));
      axes.append(node("text", { class: "tick", x, y: plot.bottom + 16, "text-anchor": "middle" }, String(t)));
    }
    axes.append(node("line", { class: "axis", x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom }));
    axes.append(node("line", { class: "axis", x1: plot.left, x2: plot.left, y1: plot.top, y2: plot.bottom }));
    axes.append(node("text", { class: "label", x: (plot.left + plot.right) / 2, y: height - 4,
      "text-anchor": "middle" }, spec.x.label || ""));
    axes.append(node("text", { class: "label", x: 12, y: (plot.top + plot.bottom) / 2, "text-anchor": "middle",
      transform: `rotate(-90 12 ${(plot.top + plot.bottom) / 2})` }, spec.y.label || ""));
    svg.append(axes);

    drawVlines(svg, spec.vlines || [], sx, plot);

    if (ys.length === 0) {
      svg.append(node("text", { class: "empty", x: (plot.left + plot.right) / 2, y: (plot.top + plot.bottom) / 2,
        "text-anchor": "middle" }, spec.empty || "no data yet"));
      return;
    }
    for (const s of series) {
      drawSeries(svg, s, sx, sy);
    }
    if (spec.gap) {
      drawGap(svg, spec.gap, sx, sy, plot);
    }
  }

  function drawVlines(svg, vlines, sx, plot) {
    const group = node("g", { class: "vlines" });
    let lastLine = -Infinity;
    let lastLabel = -Infinity;
    for (const v of vlines) {
      const x = sx(v.x);
      // Lines closer than 6 units would merge into a grey band.
      if (x < plot.left || x > plot.right || x - lastLine < 6) continue;
      lastLine = x;
      group.append(node("line", { class: "epoch-mark", x1: x.toFixed(1), x2: x.toFixed(1),
        y1: plot.top, y2: plot.bottom }));
      // Labels closer than 28 units to another or to the y axis would
      // overlap it.
      if (v.label && x - lastLabel >= 28 && x - plot.left >= 24) {
        group.append(node("text", { class: "tick", x: (x - 3).toFixed(1), y: plot.top + 10,
          "text-anchor": "end" }, v.label));
        lastLabel = x;
      }
    }
    svg.append(group);
  }

  function drawSeries(svg, s, sx, sy) {
    if (s.points.length === 0) return;
    const d = s.points
      .map((p, i) => (i === 0 ? "M" : "L") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1))
      .join(" ");
    const path = node("path", { class: "line " + s.cls, d, "data-series": s.name,
      "data-points": s.points.length });
    svg.append(path);
    if (!s.markers) return;
    const group = node("g", { class: "markers" });
    for (const p of s.points) {
      const circle = node("circle", { class: s.cls, cx: sx(p[0]).toFixed(1), cy: sy(p[1]).toFixed(1), r: 3.5,
        "data-series": s.name, "data-x": p[0], "data-y": p[1] });
      if (s.describe) {
        circle.append(node("title", {}, s.describe(p)));
      }
      group.append(circle);
    }
    svg.append(group);
  }

  function drawGap(svg, gap, sx, sy, plot) {
    if (![gap.x, gap.from, gap.to].every(Number.isFinite)) return;
    const x = sx(gap.x);
    const y1 = sy(gap.from);
    const y2 = sy(gap.to);
    const group = node("g", { class: "gap", "data-gap": gap.name || "" });
    const arm = 5;
    // The bracket sits beside the last points. Its label goes right of it
    // when the plot has room there, as while epochs remain, and otherwise
    // left of the points, over the curves, with a halo.
    const bx = x + 9;
    group.append(node("path", { class: "gap-mark", fill: "none",
      d: `M${(bx - arm).toFixed(1)} ${y1.toFixed(1)} H${bx.toFixed(1)} V${y2.toFixed(1)} H${(bx - arm).toFixed(1)}` }));
    const ty = Math.min(Math.max((y1 + y2) / 2, plot.top + 10), plot.bottom - 6);
    // 7.5 units a character is an estimate for the 12-unit bold label.
    const right = bx + 6 + gap.text.length * 7.5 <= plot.right;
    group.append(node("text", { class: "gap-text", x: (right ? bx + 6 : x - 8).toFixed(1), y: ty.toFixed(1),
      "text-anchor": right ? "start" : "end", "dominant-baseline": "middle" }, gap.text));
    svg.append(group);
  }

  return { draw, linearTicks, logTicks };
})();

// The dashboard: polls the coordinator's status document every two seconds
// and redraws the job, the epoch and step charts, the workers, the events
// and the epoch table. The status URL is relative, so the page also works
// behind a path prefix. Nothing here writes HTML from strings: worker ids,
// addresses and event messages only ever become text nodes.
"use strict";

(function () {
  const pollMillis = 2000;
  const chart = window.ringtrainChart;
  const view = {
    status: null,
    polls: 0,
    renders: 0,
    // drawn maps each chart to a signature of the data it shows, so that
    // a chart is redrawn only when its data changed.
    drawn: {},
  };

  const byId = (id) => document.getElementById(id);

  function element(name, attrs, text) {
    const el = document.createElement(name);
    for (const [key, value] of Object.entries(attrs || {})) {
      el.setAttribute(key, String(value));
    }
    if (text !== undefined) {
      el.textContent = text;
    }
    return el;
  }

  // Formatting.
  const integer = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "–");
  const fixed = (v, digits) => (Number.isFinite(v) ? v.toFixed(digits) : "–");
  const percent = (v, digits) => (Number.isFinite(v) ? (v * 100).toFixed(digits) + "%" : "–");
  const millis = (seconds) => (Number.isFinite(seconds) && seconds > 0 ? (seconds * 1000).toFixed(1) : "–");
  const signed = (v, digits) => (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(digits);

  function clock(iso) {
    const t = new Date(iso);
    return Number.isNaN(t.getTime()) ? "–" : t.toLocaleTimeString([], { hour12: false });
  }

  function duration(seconds) {
    if (!Number.isFinite(seconds) || seconds < 0) return "–";
    const s = Math.floor(seconds);
    const parts = [];
    if (s >= 3600) parts.push(Math.floor(s / 3600) + "h");
    if (s >= 60) parts.push(Math.floor((s % 3600) / 60) + "m");
    parts.push((s % 60) + "s");
    return parts.join(" ");
  }

  async function poll() {
    let status;
    try {
      const response = await fetch("status", { cache: "no-store", headers: { Accept: "application/json" } });
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      status = await response.json();
      showConnection("");
    } catch (err) {
      showConnection("status unavailable (" + err.message + "), retrying");
    }
    if (status) {
      view.status = status;
      // A document that breaks the rendering must not stop the polling, so
      // the error goes to the console, where the browser checks look for it.
      try {
        render(status);
        view.renders++;
      } catch (err) {
        console.error("dashboard: render failed:", err);
      }
    }
    view.polls++;
    document.body.dataset.polls = view.polls;
    document.body.dataset.renders = view.renders;
    setTimeout(poll, pollMillis);
  }

  function showConnection(message) {
    const el = byId("connection");
    el.textContent = message;
    el.hidden = message === "";
  }

  function render(s) {
    const history = Array.isArray(s.history) ? s.history : [];
    renderHeader(s);
    renderJob(s, history);
    renderEpochCharts(s, history);
    renderDiagnosis(history);
    renderStepChart(s, history);
    renderWorkers(Array.isArray(s.workers) ? s.workers : []);
    renderEvents(Array.isArray(s.events) ? s.events : []);
    renderEpochTable(history);
  }

  function renderHeader(s) {
    const state = byId("state");
    state.textContent = s.state || "unknown";
    state.dataset.state = s.state || "";
    byId("headline").textContent =
      `${s.model} on ${s.dataset} · epoch ${s.epoch}/${s.epochs} · step ${integer(s.step)}`;
    document.title = `ringtrain · ${s.state} · epoch ${s.epoch}/${s.epochs}`;
    const error = byId("job-error");
    error.textContent = s.error ? "The job failed: " + s.error : "";
    error.hidden = !s.error;
  }

  function renderJob(s, history) {
    const started = new Date(s.started_at).getTime();
    const ended = ["finished", "failed"].includes(s.state) ? new Date(s.updated_at).getTime() : Date.now();
    const fields = [
      ["model", s.model, "mono"],
      ["parameters", integer(s.params)],
      ["dataset", s.dataset],
      ["global batch", integer(s.batch_size)],
      ["optimizer", s.optimizer],
      ["learning rate", String(s.learning_rate)],
      ["seed", String(s.seed)],
    ];
    if (s.mode !== undefined) {
      const mode = s.micro_batch ? `${s.mode}, micro-batch ${integer(s.micro_batch)}` : String(s.mode);
      fields.push(["mode", mode]);
    }
    fields.push(
      ["state", s.state],
      ["generation", String(s.generation)],
      ["epoch", `${s.epoch} / ${s.epochs}`],
      ["step", integer(s.step)],
      ["fingerprint", s.fingerprint || "–", "mono"],
      ["min workers", String(s.min_workers)],
      ["job", s.job_id, "mono"],
      ["running for", duration((ended - started) / 1000)],
      ["updated", clock(s.updated_at)],
    );
    const list = document.createDocumentFragment();
    for (const [name, value, cls] of fields) {
      list.append(element("dt", {}, name));
      list.append(element("dd", cls ? { class: cls, "data-field": name } : { "data-field": name }, value));
    }
    byId("job-fields").replaceChildren(list);

    // The samples of an epoch are known from a finished one. Before the
    // first epoch ends, the bar stays empty and the text gives the count.
    const perEpoch = history.length ? history[history.length - 1].samples : 0;
    const done = s.state === "finished";
    let fraction = 0;
    let text = `epoch ${s.epoch}: ${integer(s.epoch_samples)} samples`;
    if (done) {
      fraction = 1;
      text = `finished ${history.length} epochs`;
    } else if (perEpoch > 0) {
      fraction = Math.min(s.epoch_samples / perEpoch, 1);
      text = `epoch ${s.epoch}: ${integer(s.epoch_samples)} of ${integer(perEpoch)} samples (${percent(fraction, 0)})`;
    }
    byId("epoch-progress").style.width = (fraction * 100).toFixed(1) + "%";
    byId("epoch-progress-text").textContent = text;
  }

  // changed stores sig as the signature of the chart named key, and
  // reports whether it differs from the one stored before.
  function changed(key, sig) {
    if (view.drawn[key] === sig) return false;
    view.drawn[key] = sig;
    return true;
  }

  function renderEpochCharts(s, history) {
    const last = history[history.length - 1];
    const sig = JSON.stringify([s.epochs, history.length, last]);
    if (!changed("epochs", sig)) return;

    const x = { min: 1, max: Math.max(s.epochs || 1, last ? last.epoch : 1), integer: true, label: "epoch" };
    const series = (key, name, cls, label, fmt) => ({
      name, cls, markers: true,
      // An epoch resumed without its earlier steps' sums may have no train
      // samples; its train values are not defined, so they are left out.
      points: history.filter((h) => !key.startsWith("train_") || h.train_samples !== 0)
        .map((h) => [h.epoch, h[key]]),
      describe: (p) => `epoch ${p[0]}: ${label} ${fmt(p[1])}`,
    });
    const lossFmt = (v) => fixed(v, 4);
    const accFmt = (v) => percent(v, 2);

    let lossGap = null;
    let accGap = null;
    if (last) {
      lossGap = { name: "loss", x: last.epoch, from: last.train_loss, to: last.test_loss,
        text: "gap " + signed(last.test_loss - last.train_loss, 4) };
      accGap = { name: "accuracy", x: last.epoch, from: last.train_accuracy, to: last.test_accuracy,
        text: "gap " + signed((last.train_accuracy - last.test_accuracy) * 100, 2) + " pp" };
    }
    chart.draw(byId("loss-chart"), {
      x, y: { min: 0, label: "cross-entropy" },
      series: [
        series("train_loss", "train-loss", "train", "train loss", lossFmt),
        series("test_loss", "test-loss", "test", "test loss", lossFmt),
      ],
      gap: lossGap, empty: "no finished epoch yet",
    });
    chart.draw(byId("accuracy-chart"), {
      x, y: { max: 1, label: "accuracy", format: (v, d) => (v * 100).toFixed(Math.max(0, d - 2)) + "%" },
      series: [
        series("train_accuracy", "train-accuracy", "train", "train accuracy", accFmt),
        series("test_accuracy", "test-accuracy", "test", "test accuracy", accFmt),
      ],
      gap: accGap, empty: "no finished epoch yet",
    });
    byId("loss-gap").textContent = last
      ? `epoch ${last.epoch}: test loss ${fixed(last.test_loss, 4)} − train loss ${fixed(last.train_loss, 4)} = ` +
        signed(last.test_loss - last.train_loss, 4)
      : "";
    byId("accuracy-gap").textContent = last
      ? `epoch ${last.epoch}: train accuracy ${percent(last.train_accuracy, 2)} − test accuracy ` +
        `${percent(last.test_accuracy, 2)} = ${signed((last.train_accuracy - last.test_accuracy) * 100, 2)} pp`
      : "";
  }

  // diagnose returns what the epoch curves show, as [text, warn] pairs.
  function diagnose(history) {
    if (history.length === 0) {
      return [["No epoch has finished yet; the epoch charts fill in as epochs end.", false]];
    }
    const notes = [];
    const last = history[history.length - 1];
    const gap = last.test_loss - last.train_loss;
    notes.push([
      gap >= 0
        ? `Epoch ${last.epoch}: test loss is ${fixed(gap, 4)} above train loss.`
        : `Epoch ${last.epoch}: test loss is ${fixed(-gap, 4)} below train loss, which is usual early on: ` +
          "train loss averages the epoch's steps, test loss uses the parameters at its end.",
      false,
    ]);

    let best = history[0];
    for (const h of history) {
      if (h.test_loss < best.test_loss) best = h;
    }
    const overfitting = best !== last && last.test_loss > best.test_loss && last.train_loss < best.train_loss;
    if (overfitting) {
      notes.push([
        `Test loss has risen since epoch ${best.epoch} (${fixed(best.test_loss, 4)} → ${fixed(last.test_loss, 4)}) ` +
          "while train loss kept falling: the model is overfitting. " +
          `Epoch ${best.epoch} had the lowest test loss.`,
        true,
      ]);
    }
    if (history.length >= 2) {
      const prev = history[history.length - 2];
      if (last.test_loss > prev.test_loss && last.test_accuracy > prev.test_accuracy) {
        notes.push([
          `In epoch ${last.epoch} test loss and test accuracy both rose: the model grows more confident, ` +
            "and its confident mistakes on test samples raise the mean cross-entropy even as more answers are right.",
          true,
        ]);
      }
      if (last.train_loss > prev.train_loss && last.train_accuracy > prev.train_accuracy) {
        notes.push([
          `In epoch ${last.epoch} train loss and train accuracy both rose: a few confident mistakes outweigh ` +
            "the gains, which can mean that the learning rate is too high.",
          true,
        ]);
      }
      if (!overfitting && last.test_loss <= prev.test_loss && last.train_loss <= prev.train_loss) {
        notes.push([`In epoch ${last.epoch} train and test loss both fell: no sign of overfitting yet.`, false]);
      }
    }
    return notes;
  }

  function renderDiagnosis(history) {
    const items = diagnose(history).map(([text, warn]) => element("li", warn ? { class: "warn" } : {}, text));
    byId("diagnosis").replaceChildren(...items);
  }

  function renderStepChart(s, history) {
    const points = Array.isArray(s.step_loss) ? s.step_loss : [];
    const log = byId("step-log").checked;
    const lastPoint = points[points.length - 1];
    // The step chart spans the page, so its drawing width follows its
    // width on screen, which keeps its text legible on narrow screens.
    const svg = byId("step-chart");
    const width = Math.max(Math.round(svg.clientWidth), 320);
    const sig = JSON.stringify([log, width, points.length, lastPoint, history.length]);
    if (!changed("steps", sig)) return;
    svg.setAttribute("viewBox", `0 0 ${width} 280`);

    // An epoch ends after ceil(samples / batch) steps, because the last
    // batch of an epoch may be smaller and is kept.
    const vlines = [];
    let step = 0;
    for (const h of history) {
      step += Math.ceil(h.samples / s.batch_size);
      vlines.push({ x: step, label: "e" + h.epoch });
    }
    chart.draw(svg, {
      x: { min: 0, max: lastPoint ? lastPoint.step : 1, label: "step" },
      y: { min: 0, log, label: "loss" },
      series: [{ name: "step-loss", cls: "step", markers: false, points: points.map((p) => [p.step, p.loss]) }],
      vlines, empty: "no committed step yet",
    });
  }

  function renderWorkers(workers) {
    const rows = document.createDocumentFragment();
    const states = new Map();
    let throughput = 0;
    for (const w of workers) {
      states.set(w.state, (states.get(w.state) || 0) + 1);
      if (w.state === "training" && Number.isFinite(w.samples_per_second)) {
        throughput += w.samples_per_second;
      }
      const row = element("tr", { "data-worker": w.id, "data-state": w.state });
      row.append(
        element("td", { class: "text mono" }, w.id),
        element("td", { class: "text state-" + w.state }, w.state),
        element("td", {}, integer(w.step)),
        element("td", {}, integer(w.samples_per_second)),
        element("td", {}, millis(w.compute_seconds)),
        element("td", {}, millis(w.allreduce_seconds)),
        element("td", {}, millis(w.overlap_seconds)),
        element("td", { class: "text mono" }, w.address),
      );
      rows.append(row);
    }
    byId("workers-body").replaceChildren(rows);
    const counts = [...states].map(([state, n]) => `${n} ${state}`).join(", ");
    byId("workers-summary").textContent = workers.length
      ? `${workers.length} (${counts}) · ${integer(throughput)} samples/s in training workers`
      : "none registered";
  }

  // warnEvent matches the events that report trouble.
  const warnEvent = /fail|error|suspect|lost|timed out|mismatch|abandon/i;

  function renderEvents(events) {
    const items = document.createDocumentFragment();
    for (let i = events.length - 1; i >= 0; i--) {
      const e = events[i];
      const item = element("li", warnEvent.test(e.message) ? { class: "warn", "data-event": i } : { "data-event": i });
      item.append(element("time", { datetime: e.time }, clock(e.time)), element("span", {}, e.message));
      items.append(item);
    }
    byId("events").replaceChildren(items);
  }

  function renderEpochTable(history) {
    const last = history[history.length - 1];
    if (!changed("epoch-table", JSON.stringify([history.length, last]))) return;
    const rows = document.createDocumentFragment();
    for (let i = history.length - 1; i >= 0; i--) {
      const h = history[i];
      const row = element("tr", { "data-epoch": h.epoch });
      const hasTrain = h.train_samples !== 0;
      row.append(
        element("td", {}, String(h.epoch)),
        element("td", {}, hasTrain ? fixed(h.train_loss, 4) : "–"),
        element("td", {}, fixed(h.test_loss, 4)),
        element("td", {}, hasTrain ? percent(h.train_accuracy, 2) : "–"),
        element("td", {}, percent(h.test_accuracy, 2)),
        element("td", {}, integer(h.samples)),
        element("td", {}, fixed(h.seconds, 1)),
      );
      rows.append(row);
    }
    byId("epochs-body").replaceChildren(rows);
  }

  const redrawSteps = () => {
    if (view.status) renderStepChart(view.status, view.status.history || []);
  };
  byId("step-log").addEventListener("change", redrawSteps);
  window.addEventListener("resize", redrawSteps);
  poll();
})();

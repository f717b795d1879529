// xplique_lens human utility experiment (Colin, Fel et al., NeurIPS 2022): training on images
// with the model's decision (and an explanation), then predicting its decision on new images.
// Offline, no dependencies; every text from the experiment goes through textContent.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("experiment-config").textContent);
  var SCREENS = ["screen-instructions", "screen-phase", "screen-train", "screen-test",
                 "screen-done", "screen-error"];

  function byId(id) { return document.getElementById(id); }
  function show(id) {
    SCREENS.forEach(function (name) { byId(name).hidden = name !== id; });
  }
  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }
  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }
  function fail(message) {
    byId("error-message").textContent = message;
    show("screen-error");
  }
  function randomInt(n) {
    if (window.crypto && window.crypto.getRandomValues) {
      var word = new Uint32Array(1);
      window.crypto.getRandomValues(word);
      return word[0] % n;
    }
    return Math.floor(Math.random() * n);
  }
  function randomId() {
    var hex = "";
    for (var i = 0; i < 12; i += 1) { hex += randomInt(16).toString(16); }
    return "p-" + hex;
  }

  // ------------------------------------------------------------ condition and participant
  var params = new URLSearchParams(window.location.search);
  var conditionIndex = -1;
  var assignment = "random";
  if (params.has("condition")) {
    var wanted = params.get("condition");
    for (var c = 0; c < config.conditions.length; c += 1) {
      if (config.conditions[c].name === wanted) { conditionIndex = c; }
    }
    if (conditionIndex < 0) {
      fail(fill(config.texts.unknown_condition, {
        condition: wanted,
        conditions: config.conditions.map(function (item) { return item.name; }).join(", ")
      }));
      return;
    }
    assignment = "url";
  } else {
    conditionIndex = randomInt(config.conditions.length);
  }
  var condition = config.conditions[conditionIndex];
  var participant = params.get("participant") || params.get("PROLIFIC_PID") || randomId();
  document.body.setAttribute("data-condition", String(conditionIndex));
  byId("condition-note").textContent = condition.note;

  // ------------------------------------------------------------ steps of the session
  var steps = [];
  var nRounds = config.rounds.length;
  config.rounds.forEach(function (round, r) {
    var names = { round: r + 1, rounds: nRounds, n_train: round.train.length,
                  n_test: round.test.length };
    steps.push({ kind: "phase", text: fill(config.texts.train_intro, names) });
    round.train.forEach(function (trial, i) {
      steps.push({ kind: "train", trial: trial, round: r, index: i, total: round.train.length });
    });
    steps.push({ kind: "phase", text: fill(config.texts.test_intro, names) });
    round.test.forEach(function (trial, i) {
      steps.push({ kind: "test", trial: trial, round: r, index: i, total: round.test.length });
    });
  });
  var preload = [];
  steps.forEach(function (step) {
    if (step.kind === "phase") { return; }
    preload.push(step.trial.image);
    var panels = step.kind === "train" ? (step.trial.explanations[conditionIndex] || []) : [];
    panels.forEach(function (panel) { preload.push(panel.src); });
  });
  preload.forEach(function (src) { var image = new Image(); image.src = src; });

  var result = {
    format: config.format,
    version: config.version,
    experiment_id: config.experiment_id,
    participant: participant,
    condition: condition.name,
    assignment: assignment,
    started: null,
    finished: null,
    user_agent: window.navigator.userAgent,
    training: [],
    responses: []
  };
  var current = -1;
  var onset = null;
  var ready = false;
  var started = false;

  function progressText(step) {
    return fill(step.kind === "train" ? config.texts.train_progress : config.texts.test_progress,
                { round: step.round + 1, rounds: nRounds, index: step.index + 1,
                  total: step.total });
  }

  function onImage(image, src, callback) {
    ready = false;
    image.onload = function () {
      window.requestAnimationFrame(function () { callback(); });
    };
    image.onerror = function () { fail(fill(config.texts.missing_image, { src: src })); };
    image.src = src;
  }

  function showTrain(step) {
    byId("train-progress").textContent = progressText(step);
    byId("train-decision").textContent = step.trial.decision_name;
    var box = byId("train-explanations");
    clear(box);
    (step.trial.explanations[conditionIndex] || []).forEach(function (panel) {
      var div = document.createElement("div");
      div.className = "panel";
      var image = document.createElement("img");
      image.src = panel.src;
      image.alt = panel.caption || config.texts.explanation;
      div.appendChild(image);
      if (panel.caption) {
        var caption = document.createElement("div");
        caption.className = "caption";
        caption.textContent = panel.caption;
        div.appendChild(caption);
      }
      if (panel.crops && panel.crops.length) {
        var crops = document.createElement("div");
        crops.className = "crops";
        panel.crops.forEach(function (src) {
          var crop = document.createElement("img");
          crop.src = src;
          crop.alt = config.texts.crop;
          crops.appendChild(crop);
        });
        div.appendChild(crops);
      }
      box.appendChild(div);
    });
    var next = byId("next");
    next.disabled = true;
    show("screen-train");
    onImage(byId("train-image"), step.trial.image, function () {
      onset = window.performance.now();
      window.setTimeout(function () {
        ready = true;
        next.disabled = false;
      }, config.min_view_ms);
    });
  }

  function showTest(step) {
    byId("test-progress").textContent = progressText(step);
    var image = byId("test-image");
    image.style.visibility = "hidden";
    var buttons = byId("choices").querySelectorAll("button");
    buttons.forEach(function (button) { button.disabled = true; });
    show("screen-test");
    onImage(image, step.trial.image, function () {
      image.style.visibility = "visible";
      buttons.forEach(function (button) { button.disabled = false; });
      onset = window.performance.now();
      ready = true;
    });
  }

  function advance() {
    if (document.activeElement && document.activeElement.blur) { document.activeElement.blur(); }
    current += 1;
    if (current >= steps.length) { finish(); return; }
    var step = steps[current];
    if (step.kind === "phase") {
      byId("phase-text").textContent = step.text;
      show("screen-phase");
      ready = true;
    } else if (step.kind === "train") {
      showTrain(step);
    } else {
      showTest(step);
    }
  }

  function next() {
    if (!ready) { return; }
    var step = steps[current];
    if (step && step.kind === "train") {
      result.training.push({ trial: step.trial.trial,
                             viewed_ms: window.performance.now() - onset });
    }
    ready = false;
    advance();
  }

  function respond(choiceIndex, input) {
    var step = steps[current];
    if (!ready || !step || step.kind !== "test") { return; }
    ready = false;
    result.responses.push({
      trial: step.trial.trial,
      choice: config.choices[choiceIndex].id,
      rt_ms: window.performance.now() - onset,
      input: input
    });
    byId("test-image").style.visibility = "hidden";
    byId("choices").querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    window.setTimeout(advance, config.iti_ms);
  }

  function fileName() {
    var safe = function (text) { return String(text).replace(/[^A-Za-z0-9_-]/g, "_"); };
    return "responses_" + safe(condition.name) + "_" + safe(participant) + ".json";
  }

  function download(text) {
    var blob = new Blob([text], { type: "application/json" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = fileName();
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
    window.setTimeout(function () { URL.revokeObjectURL(link.href); }, 10000);
  }

  function finish() {
    result.finished = new Date().toISOString();
    window.onbeforeunload = null;
    var text = JSON.stringify(result, null, 1);
    show("screen-done");
    byId("download").onclick = function () { download(text); };
    var status = byId("post-status");
    if (!config.post_url) { status.textContent = config.texts.download_only; return; }
    status.textContent = config.texts.sending;
    window.fetch(config.post_url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: text,
      keepalive: true
    }).then(function (response) {
      status.textContent = response.ok ? config.texts.sent
        : fill(config.texts.send_failed, { reason: "HTTP " + response.status });
    }).catch(function (error) {
      status.textContent = fill(config.texts.send_failed, { reason: String(error) });
    });
  }

  // ------------------------------------------------------------ inputs
  config.choices.forEach(function (choice, i) {
    var button = document.createElement("button");
    button.type = "button";
    button.disabled = true;
    button.setAttribute("data-choice", String(choice.id));
    if (i < 9) {
      var key = document.createElement("span");
      key.className = "key";
      key.textContent = String(i + 1);
      button.appendChild(key);
    }
    button.appendChild(document.createTextNode(choice.name));
    button.addEventListener("click", function (event) {
      respond(i, event.detail === 0 ? "keyboard" : "mouse");
    });
    byId("choices").appendChild(button);
  });

  function start() {
    if (started) { return; }
    started = true;
    result.started = new Date().toISOString();
    window.onbeforeunload = function () { return config.texts.leave; };
    advance();
  }

  byId("start").addEventListener("click", start);
  byId("next").addEventListener("click", next);
  byId("continue").addEventListener("click", next);
  document.addEventListener("keydown", function (event) {
    if (event.repeat || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var proceed = event.key === " " || event.key === "Enter" || event.key === "ArrowRight";
    if (!started) {
      if (proceed && !byId("screen-instructions").hidden) { event.preventDefault(); start(); }
      return;
    }
    var step = steps[current];
    if (!step) { return; }
    if (step.kind === "test") {
      if (/^[1-9]$/.test(event.key)) {
        var index = Number(event.key) - 1;
        if (index < config.choices.length) { event.preventDefault(); respond(index, "keyboard"); }
      }
    } else if (proceed) {
      event.preventDefault();
      next();
    }
  });
  show("screen-instructions");
})();

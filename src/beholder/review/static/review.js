// The review screen: one image at a time, driven by the keyboard.
//
// Decisions go into an outbox kept in localStorage and are posted one at a
// time, in order, until the server acknowledges each (a 2xx reply means the
// journal row is committed). A network failure or a 5xx reply is retried,
// so closing the tab or losing the server loses nothing that was typed.
// Every label and file name reaches the page through textContent.
(function () {
  "use strict";

  const boot = JSON.parse(document.getElementById("boot").textContent);
  const blind = boot.mode === "blind";
  const classes = boot.classes;
  const OUTBOX_KEY = "beholder.outbox";
  const MAX_OPTIONS = 12;
  const PREFETCH = 3;

  const $ = (id) => document.getElementById(id);
  const view = {
    items: [],
    index: boot.index,
    details: new Map(),
    queue: null,
    shown: null,
  };

  // ---------------------------------------------------------------- outbox
  const callbacks = new Map();
  let outbox = loadOutbox();
  let pumping = false;
  let acknowledged = 0;

  function loadOutbox() {
    try {
      return JSON.parse(localStorage.getItem(OUTBOX_KEY) || "[]");
    } catch (error) {
      return [];
    }
  }

  // NOTE: every tab of this origin stores its outbox under one key, so a tab
  // that saves drops the unsent entries another tab stored there. Those
  // entries are still sent while their own tab stays open.
  function saveOutbox() {
    try {
      localStorage.setItem(OUTBOX_KEY, JSON.stringify(outbox));
    } catch (error) {
      // Without storage the outbox lives as long as the page.
    }
  }

  function newRequestId() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function post(path, body, onAcknowledged) {
    body.request_id = newRequestId();
    outbox.push({ path: path, body: body });
    saveOutbox();
    if (onAcknowledged) {
      callbacks.set(body.request_id, onAcknowledged);
    }
    showStatus();
    pump();
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function pump() {
    if (pumping) {
      return;
    }
    pumping = true;
    try {
      while (outbox.length) {
        const job = outbox[0];
        let response;
        try {
          response = await fetch(job.path, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(job.body),
            credentials: "same-origin",
          });
        } catch (error) {
          setStatus("server unreachable: " + outbox.length + " unsaved, retrying", "error");
          await sleep(1000);
          continue;
        }
        if (response.status >= 500 || response.status === 429) {
          setStatus("server error " + response.status + ", retrying", "error");
          await sleep(1000);
          continue;
        }
        outbox.shift();
        saveOutbox();
        const data = await response.json().catch(() => ({}));
        const callback = callbacks.get(job.body.request_id);
        callbacks.delete(job.body.request_id);
        if (response.ok) {
          acknowledged += 1;
          if (callback) {
            callback(data);
          }
          showStatus();
        } else {
          setStatus(data.detail || "request failed: " + response.status, "error");
        }
      }
    } finally {
      pumping = false;
    }
  }

  function showStatus() {
    const pending = outbox.length;
    const element = $("save-status");
    element.dataset.pending = String(pending);
    element.dataset.acknowledged = String(acknowledged);
    if (pending) {
      setStatus("saving… " + pending + " pending", "pending");
    } else {
      setStatus("saved ✓ " + acknowledged + " this session", "saved");
    }
  }

  function setStatus(text, kind) {
    const element = $("save-status");
    element.textContent = text;
    element.className = "save-status " + kind;
  }

  // ------------------------------------------------------------ navigation
  function api(path) {
    return fetch(path, { credentials: "same-origin" }).then(async (response) => {
      const data = await response.json().catch(() => ({}));
      if (!response.ok) {
        throw new Error(data.detail || "request failed: " + response.status);
      }
      return data;
    });
  }

  function thumbUrl(imageId, size) {
    return "/api/images/" + imageId + "/thumb?size=" + size;
  }

  function detail(imageId) {
    if (!view.details.has(imageId)) {
      let path = "/api/images/" + imageId;
      if (blind) {
        path += "?blind=1&reviewer=" + encodeURIComponent(window.beholder.reviewer());
      }
      const promise = api(path).catch((error) => {
        view.details.delete(imageId);
        throw error;
      });
      view.details.set(imageId, promise);
    }
    return view.details.get(imageId);
  }

  async function loadQueue() {
    const query = new URLSearchParams(boot.params);
    if (blind) {
      query.set("blind", "1");
    }
    try {
      view.queue = await api(
        "/api/queues/" + encodeURIComponent(boot.queue_id) + "?" + query.toString()
      );
    } catch (error) {
      setStatus(error.message, "error");
      return;
    }
    view.items = view.queue.items;
    $("queue-title").textContent = view.queue.title;
    if (!view.items.length) {
      $("empty").hidden = false;
      return;
    }
    go(Math.min(view.index, view.items.length - 1));
  }

  function updateUrl() {
    const query = new URLSearchParams(boot.params);
    if (blind) {
      query.set("mode", "blind");
    }
    query.set("i", String(view.index));
    history.replaceState(null, "", location.pathname + "?" + query.toString());
  }

  async function go(index) {
    const items = view.items;
    if (!items.length) {
      return;
    }
    index = Math.max(0, Math.min(index, items.length));
    view.index = index;
    updateUrl();

    $("position").textContent =
      Math.min(index + 1, items.length) + " / " + items.length;
    $("progress-bar").style.width = (100 * index) / items.length + "%";
    const done = index >= items.length;
    $("done").hidden = !done;
    $("stage").hidden = done;
    if (!blind) {
      $("evidence").hidden = done;
    }
    if (done) {
      view.shown = null;
      return;
    }

    const item = items[index];
    view.shown = item.image_id;
    const image = $("image");
    image.classList.remove("broken");
    image.src = thumbUrl(item.image_id, 384);
    $("image-caption").textContent = blind ? "image " + (index + 1) : "";
    if (blind) {
      resetBlindInput();
    }

    try {
      const record = await detail(item.image_id);
      if (view.shown === item.image_id) {
        (blind ? renderBlind : renderReview)(record, item);
      }
    } catch (error) {
      setStatus(error.message, "error");
    }
    prefetch(index);
  }

  function prefetch(index) {
    for (let k = 1; k <= PREFETCH; k += 1) {
      const item = view.items[index + k];
      if (item) {
        new Image().src = thumbUrl(item.image_id, 384);
      }
    }
    const next = view.items[index + 1];
    if (next) {
      detail(next.image_id).catch(() => {});
    }
  }

  function refresh(imageId) {
    view.details.delete(imageId);
    if (view.shown === imageId) {
      go(view.index);
    }
  }

  // ---------------------------------------------------------------- review
  function text(id, value) {
    $(id).textContent = value === null || value === undefined ? "—" : String(value);
  }

  function fixed(value, digits) {
    return typeof value === "number" ? value.toFixed(digits) : "—";
  }

  function renderReview(record, item) {
    const issue = record.issue || {};
    text("given", record.given);
    text("predicted", record.predicted);
    $("confidence").textContent =
      typeof record.confidence === "number"
        ? " " + Math.round(100 * record.confidence) + "%"
        : "";
    text("suggested", issue.suggested);
    $("image-caption").textContent =
      record.relpath + (record.split ? " · " + record.split : "");
    $("reason").textContent = item.reason || "";
    renderCurrent(record.current);
    renderScores(issue);
    renderProbabilities(record.probabilities || [], record);
    text("ex-given-label", record.given);
    text("ex-suggested-label", issue.suggested);
    renderStrip("ex-given", record.examples.given.map((id) => ({ image_id: id })));
    renderStrip("ex-suggested", record.examples.suggested.map((id) => ({ image_id: id })));
    renderStrip("neighbours", record.neighbours);
  }

  function renderCurrent(current) {
    const element = $("current");
    element.replaceChildren();
    const badge = document.createElement("span");
    if (!current) {
      badge.className = "badge";
      badge.textContent = "not decided yet";
      element.append(badge);
      return;
    }
    badge.className = "badge " + current.action;
    badge.textContent =
      current.action === "relabel" ? "relabel → " + current.new_label : current.action;
    const who = document.createElement("span");
    who.className = "muted";
    who.textContent =
      " by " + current.reviewer + ", " + current.created_at.slice(0, 16).replace("T", " ");
    element.append(badge, who);
  }

  function renderScores(issue) {
    const rows = [
      ["rank", issue.rank === undefined ? null : issue.rank],
      ["label-issue score", fixed(issue.score, 3)],
      ["self-confidence", fixed(issue.self_confidence, 3)],
      ["normalized margin", fixed(issue.normalized_margin, 3)],
    ];
    const table = $("scores");
    table.replaceChildren();
    for (const [name, value] of rows) {
      const row = table.insertRow();
      row.insertCell().textContent = name;
      const cell = row.insertCell();
      cell.className = "num";
      cell.textContent = value === null || value === undefined ? "—" : String(value);
    }
  }

  function renderProbabilities(probabilities, record) {
    const element = $("probabilities");
    element.replaceChildren();
    for (const entry of probabilities) {
      const row = document.createElement("div");
      row.className = "bar-row";
      const name = document.createElement("span");
      name.className = "bar-label";
      name.textContent = entry.label;
      if (entry.label === record.given) {
        name.classList.add("given");
      }
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = Math.round(100 * entry.probability) + "%";
      bar.append(fill);
      const value = document.createElement("span");
      value.className = "bar-value";
      value.textContent = Math.round(100 * entry.probability) + "%";
      row.append(name, bar, value);
      element.append(row);
    }
  }

  function renderStrip(id, entries) {
    const strip = $(id);
    strip.replaceChildren();
    if (!entries.length) {
      const none = document.createElement("span");
      none.className = "muted";
      none.textContent = "none";
      strip.append(none);
      return;
    }
    for (const entry of entries) {
      const figure = document.createElement("figure");
      const image = document.createElement("img");
      image.src = thumbUrl(entry.image_id, 192);
      image.alt = "image " + entry.image_id;
      image.loading = "lazy";
      figure.append(image);
      if (entry.label !== undefined) {
        const caption = document.createElement("figcaption");
        caption.className = "pill";
        caption.textContent = entry.label;
        figure.append(caption);
      }
      strip.append(figure);
    }
  }

  function decide(action, label) {
    const item = view.items[view.index];
    if (!item) {
      return;
    }
    const body = {
      image_id: item.image_id,
      action: action,
      reviewer: window.beholder.reviewer(),
      queue: boot.queue_id,
    };
    if (label) {
      body.label = label;
    }
    const note = $("note").value.trim();
    if (note) {
      body.note = note;
      $("note").value = "";
    }
    view.details.delete(item.image_id);
    post("/api/decisions", body, () => refresh(item.image_id));
    go(view.index + 1);
  }

  function undo() {
    post("/api/undo", { reviewer: window.beholder.reviewer(), queue: boot.queue_id }, (data) => {
      const imageId = data.undone.image_id;
      view.details.delete(imageId);
      const position = view.items.findIndex((item) => item.image_id === imageId);
      if (position >= 0) {
        go(position);
      }
      setStatus("undid " + data.undone.action + " of image " + imageId, "saved");
    });
  }

  async function acceptSuggestion() {
    const item = view.items[view.index];
    if (!item) {
      return;
    }
    const record = await detail(item.image_id);
    const suggested = record.issue && record.issue.suggested;
    if (!suggested) {
      setStatus("no suggestion for this image", "error");
      return;
    }
    decide("relabel", suggested);
  }

  // ------------------------------------------------------------- type-ahead
  function matches(query) {
    const wanted = query.trim().toLowerCase();
    if (!wanted) {
      return classes.slice(0, MAX_OPTIONS);
    }
    const exact = [];
    const prefix = [];
    const inner = [];
    for (const name of classes) {
      const lower = name.toLowerCase();
      if (lower === wanted) {
        exact.push(name);
      } else if (lower.startsWith(wanted)) {
        prefix.push(name);
      } else if (lower.includes(wanted)) {
        inner.push(name);
      }
    }
    return exact.concat(prefix, inner).slice(0, MAX_OPTIONS);
  }

  function typeahead(input, list, onChoose) {
    let options = [];
    let selected = 0;

    function render() {
      options = matches(input.value);
      selected = Math.min(selected, Math.max(options.length - 1, 0));
      list.replaceChildren();
      options.forEach((name, index) => {
        const item = document.createElement("li");
        item.textContent = name;
        if (index === selected) {
          item.className = "selected";
        }
        item.addEventListener("mousedown", (event) => {
          event.preventDefault();
          onChoose(name);
        });
        list.append(item);
      });
    }

    input.addEventListener("input", () => {
      selected = 0;
      render();
    });
    return {
      render: render,
      move: (step) => {
        if (options.length) {
          selected = (selected + step + options.length) % options.length;
          render();
        }
      },
      choice: () => options[selected],
      reset: () => {
        input.value = "";
        selected = 0;
        render();
      },
    };
  }

  // ----------------------------------------------------------- relabel box
  let relabelBox = null;

  function openRelabel() {
    if (!view.items[view.index]) {
      return;
    }
    $("relabel").hidden = false;
    relabelBox.reset();
    $("relabel-input").focus();
  }

  function closeRelabel() {
    $("relabel").hidden = true;
    $("relabel-input").blur();
  }

  // ------------------------------------------------------------ blind mode
  let blindBox = null;

  function resetBlindInput() {
    blindBox.reset();
    $("blind-answer").textContent = "";
    $("blind-input").focus();
  }

  function renderBlind(record) {
    $("blind-answer").textContent = record.answered
      ? "Your answer: " + (record.answer === null ? "can't tell" : record.answer)
      : "";
  }

  function answerBlind(label) {
    const item = view.items[view.index];
    if (!item) {
      return;
    }
    const body = {
      image_id: item.image_id,
      label: label,
      reviewer: window.beholder.reviewer(),
      queue: boot.queue_id,
    };
    view.details.delete(item.image_id);
    post("/api/blind", body, () => view.details.delete(item.image_id));
    go(view.index + 1);
  }

  function setUpBlind() {
    const input = $("blind-input");
    blindBox = typeahead(input, $("blind-options"), answerBlind);
    input.addEventListener("keydown", (event) => {
      const empty = input.value === "";
      if (event.key === "Enter") {
        event.preventDefault();
        if (event.shiftKey) {
          answerBlind(null);
        } else if (blindBox.choice()) {
          answerBlind(blindBox.choice());
        }
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        blindBox.move(1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        blindBox.move(-1);
      } else if (event.key === "ArrowRight" && empty) {
        event.preventDefault();
        go(view.index + 1);
      } else if (event.key === "ArrowLeft" && empty) {
        event.preventDefault();
        go(view.index - 1);
      } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
        event.preventDefault();
        undo();
      } else if (event.key === "Escape") {
        blindBox.reset();
      }
    });
    blindBox.render();
  }

  // --------------------------------------------------------------- keyboard
  const commands = {
    keep: () => decide("keep"),
    accept: acceptSuggestion,
    relabel: openRelabel,
    ambiguous: () => decide("ambiguous"),
    remove: () => decide("remove"),
    next: () => go(view.index + 1),
    prev: () => go(view.index - 1),
    undo: undo,
    "cant-tell": () => answerBlind(null),
    help: () => {
      $("help").hidden = !$("help").hidden;
    },
  };

  const keys = {
    k: "keep",
    s: "accept",
    r: "relabel",
    a: "ambiguous",
    x: "remove",
    Delete: "remove",
    ArrowRight: "next",
    n: "next",
    j: "next",
    ArrowLeft: "prev",
    p: "prev",
    u: "undo",
    "?": "help",
  };

  function setUpReview() {
    const input = $("relabel-input");
    relabelBox = typeahead(input, $("relabel-options"), (name) => {
      closeRelabel();
      decide("relabel", name);
    });
    input.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Enter") {
        event.preventDefault();
        const name = relabelBox.choice();
        if (name) {
          closeRelabel();
          decide("relabel", name);
        }
      } else if (event.key === "Escape") {
        closeRelabel();
      } else if (event.key === "ArrowDown") {
        event.preventDefault();
        relabelBox.move(1);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        relabelBox.move(-1);
      }
    });
    $("note").addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Enter" || event.key === "Escape") {
        $("note").blur();
      }
    });
    document.addEventListener("keydown", (event) => {
      if (event.target instanceof HTMLInputElement) {
        return;
      }
      if (!$("help").hidden && (event.key === "Escape" || event.key === "?")) {
        $("help").hidden = true;
        return;
      }
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "z") {
        event.preventDefault();
        undo();
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) {
        return;
      }
      if (event.key === "c") {
        event.preventDefault();
        $("note").focus();
        return;
      }
      if (event.key === "b") {
        const query = new URLSearchParams(boot.params);
        query.set("mode", "blind");
        query.set("i", String(view.index));
        location.href = location.pathname + "?" + query.toString();
        return;
      }
      const command = keys[event.key];
      if (command) {
        event.preventDefault();
        commands[command]();
      }
    });
  }

  for (const button of document.querySelectorAll("[data-command]")) {
    button.addEventListener("click", () => commands[button.dataset.command]());
  }
  $("image").addEventListener("error", () => {
    $("image").classList.add("broken");
    $("image-caption").textContent = "this image could not be decoded";
  });

  if (blind) {
    setUpBlind();
  } else {
    setUpReview();
  }
  showStatus();
  pump();
  loadQueue();
})();

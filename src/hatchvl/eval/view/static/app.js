// The hatchvl predictions viewer: filters, sort, search and pages over window.HATCHVL_VIEW (data.js).
// Every text from the data is set as text (textContent), never parsed as HTML; only summary_html,
// which the site writer rendered and escaped itself, is inserted as HTML.
"use strict";
(function () {
  const D = window.HATCHVL_VIEW;
  const $ = (id) => document.getElementById(id);
  if (!D) {
    $("items").textContent = "data.js did not load: write the site again with `hatchvl eval view`.";
    return;
  }
  const STATUSES = ["correct", "partial", "wrong", "missing", "unscored"];
  const PAGE_SIZES = [20, 50, 100, 200];
  const state = { category: "", result: "", agree: "", bin: "", search: "", sort: "order", page: 0, size: 50 };

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) if (child) node.appendChild(child);
    return node;
  }
  const fmt = (x, digits) => (typeof x === "number" ? x.toFixed(digits) : "–");

  function fill(select, options) {
    for (const [value, label] of options) select.appendChild(el("option", { value: value, text: label }));
  }

  function header() {
    const names = D.runs.map((r) => r.label);
    $("title").textContent = names.join(" vs ") + " — " + D.title;
    document.title = $("title").textContent;
    for (const run of D.runs) {
      const box = el("details", {}, [el("summary", {
        text: run.label + (run.blind && !run.label.endsWith("(blind)") ? " (blind control)" : "") + ": " +
          (typeof run.average === "number" ? run.average.toFixed(1) + "% over " + run.count + " items" : "no results.json") +
          " — " + run.path })]);
      if (run.summary_html) {
        const body = el("div");
        body.innerHTML = run.summary_html;  // rendered and escaped by the site writer (markdown.py)
        box.appendChild(body);
      }
      $("runs").appendChild(box);
      const problems = [...run.problems, ...run.notes];
      if (problems.length || run.bad_lines.length) {
        const list = el("div", { class: "problems" }, [el("strong", { text: run.label + ": " })]);
        for (const p of problems) list.appendChild(el("div", { text: p }));
        if (run.bad_lines.length) {
          const lines = el("details", { open: "" }, [el("summary", {
            text: run.bad_lines.length + " line(s) of scored.jsonl left out" })]);
          const ul = el("ul");
          for (const line of run.bad_lines) ul.appendChild(el("li", { class: "bad-line", text: line }));
          lines.appendChild(ul);
          list.appendChild(lines);
        }
        $("problems").appendChild(list);
      }
    }
    for (const p of D.problems) $("problems").appendChild(el("div", { class: "problems", text: p }));
  }

  function controls() {
    fill($("category"), [["", "all"], ...D.categories.map((c) => [c, c])]);
    const results = [["", "all"]];
    D.runs.forEach((run, r) => {
      for (const s of STATUSES) results.push([r + ":" + s, (D.runs.length > 1 ? run.label + ": " : "") + s]);
    });
    fill($("result"), results);
    if (D.runs.length > 1) {
      $("agree-label").hidden = false;
      fill($("agree"), [["", "all"], ["agree", "same answer"], ["disagree", "different answers"]]);
    }
    const bins = [["", "all"]];
    D.runs.forEach((run, r) => {
      for (const b of D.reward_bins) bins.push([r + ":" + b, (D.runs.length > 1 ? run.label + ": " : "") + b]);
    });
    fill($("bin"), bins);
    fill($("sort"), [["order", "file order"], ["score-asc", "score, lowest first"], ["score-desc", "score, highest first"],
      ["reward-asc", "action reward, lowest first"], ["reward-desc", "action reward, highest first"],
      ["category", "category"], ["id", "id"]]);
    for (const name of ["category", "result", "agree", "bin", "sort"]) {
      $(name).addEventListener("change", () => { state[name] = $(name).value; state.page = 0; render(); });
    }
    $("search").addEventListener("input", () => { state.search = $("search").value.trim().toLowerCase(); state.page = 0; render(); });
    $("total").textContent = D.items.length;
  }

  function keep(item) {
    if (state.category && item.category !== state.category) return false;
    if (state.result) {
      const [r, s] = state.result.split(":");
      const run = item.runs[+r];
      if (!run || run.status !== s) return false;
    }
    if (state.agree && (item.agree === null || item.agree === undefined || item.agree !== (state.agree === "agree"))) return false;
    if (state.bin) {
      const cut = state.bin.indexOf(":");
      const run = item.runs[+state.bin.slice(0, cut)];
      if (!run || run.bin !== state.bin.slice(cut + 1)) return false;
    }
    if (state.search) {
      const text = ((item.question || "") + " " + item.id).toLowerCase();
      if (!text.includes(state.search)) return false;
    }
    return true;
  }

  function value(item, key) {
    const run = item.runs.find((r) => r) || {};
    const v = key === "score" ? run.score : run.reward;
    return typeof v === "number" ? v : null;
  }

  function sorted(items) {
    const [key, direction] = state.sort.split("-");
    if (key === "order") return items;
    const out = items.slice();
    if (key === "category" || key === "id") {
      out.sort((a, b) => (a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : a.index - b.index));
      return out;
    }
    const sign = direction === "asc" ? 1 : -1;
    out.sort((a, b) => {
      const x = value(a, key), y = value(b, key);
      if (x === null || y === null) return (x === null) - (y === null) || a.index - b.index;
      return sign * (x - y) || a.index - b.index;
    });
    return out;
  }

  function views(images, caption) {
    const box = el("div", { class: "views" });
    images.forEach((image, k) => {
      const label = el("span", { class: "label", text: (caption || "image ") + (k + 1) });
      if (!image.src) {
        box.appendChild(el("div", { class: "view absent missing-image", title: image.missing || "" },
          [el("span", { text: "image " + (k + 1) + " missing: " + (image.missing || "unknown") })]));
        return;
      }
      const view = el("div", { class: "view" }, [el("img", { src: image.src, alt: "image " + (k + 1) }), label]);
      for (const [x, y] of image.markers || []) view.appendChild(el("span", { class: "marker", style: "left:" + x + "%;top:" + y + "%" }));
      box.appendChild(view);
    });
    if (!images.length) box.appendChild(el("div", { class: "view absent missing-image", text: "no images: the benchmark data was not read" }));
    return box;
  }

  function pairs(run) {
    const table = el("table", { class: "pairs" }, [el("tr", {}, ["images", "written", "reward", "position error (m)",
      "yaw error (°)", "pitch error (°)"].map((h) => el("th", { text: h })))]);
    for (const p of run.pairs) {
      table.appendChild(el("tr", {}, [p.pair, p.written || "not written", fmt(p.reward, 3), fmt(p.pos_m, 2),
        fmt(p.yaw_deg, 1), fmt(p.pitch_deg, 1)].map((c) => el("td", { text: c }))));
    }
    return table;
  }

  function runBox(run, meta) {
    const box = el("section", { class: "run" }, [el("h3", { text: meta.label })]);
    if (!run) { box.appendChild(el("p", { class: "note", text: "not in this result folder" })); return box; }
    const fields = el("dl", { class: "fields" });
    const add = (name, text, cls) => { fields.appendChild(el("dt", { text: name })); fields.appendChild(el("dd", { text: text, class: cls || "" })); };
    add("extracted", run.extracted === null || run.extracted === undefined ? "(none)" : run.extracted, "extracted");
    add("score", fmt(run.score, 3) + " (" + run.status + ")");
    if (typeof run.reward === "number") add("action reward", fmt(run.reward, 3));
    box.appendChild(fields);
    box.appendChild(el("pre", { class: "output", text: run.output === null || run.output === undefined ? "(no prediction)" : run.output }));
    if (run.shown) {
      box.appendChild(el("p", { class: "note", text: "blind control: shown the images of item " + run.shown.id }));
      box.appendChild(views(run.shown.images, "shown "));
    }
    if (run.parse_error) box.appendChild(el("p", { class: "note", text: "actions not read: " + run.parse_error }));
    if (run.plan_error) box.appendChild(el("p", { class: "note", text: "no plan: " + run.plan_error }));
    if (run.svg) {
      box.appendChild(el("div", { class: "plan" }, [el("img", { src: run.svg, alt: "cameras from above", class: "plan-svg" }), pairs(run)]));
    }
    return box;
  }

  function card(item) {
    const first = item.runs.find((r) => r) || {};
    const title = el("h2", {}, [el("span", { text: item.id }), el("span", { text: item.category }),
      el("span", { class: "badge " + first.status, text: first.status })]);
    if (item.agree !== undefined && item.agree !== null) {
      title.appendChild(el("span", { class: "badge " + (item.agree ? "agree" : "disagree"), text: item.agree ? "same answer" : "different answers" }));
    }
    const box = el("article", { class: "item" }, [title, views(item.images)]);
    box.appendChild(el("div", { class: "question", text: item.question === null ? "(question not available)" : item.question }));
    if (item.options) {
      const list = el("ol", { class: "options", type: "A" });
      for (const [, text] of item.options) list.appendChild(el("li", { text: text }));
      box.appendChild(list);
    }
    box.appendChild(el("p", {}, [el("strong", { text: "gold answer: " }), el("span", { class: "gold", text: String(item.answer) })]));
    if (item.note) box.appendChild(el("p", { class: "note", text: item.note }));
    box.appendChild(el("div", { class: "runs" }, item.runs.map((run, r) => runBox(run, D.runs[r]))));
    return box;
  }

  function pager(target, pages) {
    target.textContent = "";
    const prev = el("button", { type: "button", class: "prev", text: "← previous" });
    const next = el("button", { type: "button", class: "next", text: "next →" });
    prev.disabled = state.page === 0;
    next.disabled = state.page >= pages - 1;
    prev.addEventListener("click", () => { state.page -= 1; render(); window.scrollTo(0, 0); });
    next.addEventListener("click", () => { state.page += 1; render(); window.scrollTo(0, 0); });
    const size = el("select", { class: "size" });
    fill(size, PAGE_SIZES.map((n) => [String(n), n + " per page"]));
    size.value = String(state.size);
    size.addEventListener("change", () => { state.size = +size.value; state.page = 0; render(); });
    target.append(prev, el("span", { text: "page " + (state.page + 1) + " of " + pages }), next, size);
  }

  function render() {
    const shown = sorted(D.items.filter(keep));
    const pages = Math.max(1, Math.ceil(shown.length / state.size));
    state.page = Math.min(state.page, pages - 1);
    $("count").textContent = shown.length;
    const list = $("items");
    list.textContent = "";
    for (const item of shown.slice(state.page * state.size, (state.page + 1) * state.size)) list.appendChild(card(item));
    pager($("pager-top"), pages);
    pager($("pager-bottom"), pages);
  }

  D.items.forEach((item, k) => { item.index = k; });
  header();
  controls();
  render();
})();

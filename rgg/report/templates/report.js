"use strict";
// The report's own script: sortable and filterable static tables, and the views drawn from
// the embedded data block (#rgg-data): paged tables of top hits, significant genes per
// group and on-target effects, the gene lookup and the clustered heatmap. Every label and
// gene name is set as text (textContent, fillText), never parsed as HTML.
(function () {
  function measureNav() {
    var nav = document.querySelector("nav");
    document.documentElement.style.setProperty("--nav-height", nav.offsetHeight + "px");
  }
  measureNav();
  window.addEventListener("resize", measureNav);
})();

(function () {
  function cellValue(row, index) {
    const cell = row.cells[index];
    if (!cell) { return ""; }
    const raw = cell.getAttribute("data-value");
    if (raw !== null && raw !== "" && raw !== "None" && !Number.isNaN(Number(raw))) { return Number(raw); }
    return cell.textContent.trim().toLowerCase();
  }
  function sortBy(table, header, index) {
    const body = table.tBodies[0];
    const ascending = header.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("th").forEach(function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      const x = cellValue(a, index), y = cellValue(b, index);
      if (typeof x === "number" && typeof y === "number") { return ascending ? x - y : y - x; }
      return ascending ? String(x).localeCompare(String(y)) : String(y).localeCompare(String(x));
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    const headers = table.tHead ? table.tHead.rows[0].cells : [];
    Array.from(headers).forEach(function (header, index) {
      header.addEventListener("click", function () { sortBy(table, header, index); });
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    const table = document.getElementById(input.getAttribute("data-filter-for"));
    if (!table) { return; }
    input.addEventListener("input", function () {
      const needle = input.value.trim().toLowerCase();
      Array.from(table.tBodies[0].rows).forEach(function (row) {
        row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
      });
    });
  });
})();

(function () {
  const source = document.getElementById("rgg-data");
  if (!source) { return; }
  const data = JSON.parse(source.textContent);
  const genes = data.genes;
  const PAGE = 25;
  const LABELS = {
    score: "score", logfoldchange: "log2 fold change", pval_adj: "adjusted p",
    pts: "pts", pts_rest: "pts rest", auroc: "AUROC",
  };

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  function fmt(value) {
    if (value === null || value === undefined) { return ""; }
    if (typeof value !== "number") { return String(value); }
    if (!Number.isFinite(value)) { return value > 0 ? "inf" : "-inf"; }
    if (Number.isInteger(value)) { return String(value); }  // ranks and counts, exactly
    if (value !== 0 && Math.abs(value) < 1e-3) { return value.toExponential(2); }
    return String(Number(value.toPrecision(3)));
  }
  function compare(x, y, ascending) {
    // missing values last in either direction
    if (x === null || x === undefined) { return (y === null || y === undefined) ? 0 : 1; }
    if (y === null || y === undefined) { return -1; }
    const order = (typeof x === "number" && typeof y === "number")
      ? x - y : String(x).localeCompare(String(y));
    return ascending ? order : -order;
  }

  // A paged table over row positions: columns = [{label, get(i), num}], search(i) -> text.
  function pagedTable(container, columns, positions, options) {
    options = options || {};
    let shown = positions.slice();
    let page = 0, sortColumn = -1, ascending = true;
    const wrapper = el("div", "paged");
    let input = null;
    if (options.search) {
      input = el("input", "filter paged-search");
      input.type = "search";
      input.placeholder = options.placeholder || "Filter";
      input.setAttribute("aria-label", input.placeholder);
      wrapper.appendChild(input);
    }
    const table = el("table", "sortable paged-table " + (options.className || ""));
    const head = table.createTHead().insertRow();
    const headers = columns.map(function (column, index) {
      const th = el("th", "", column.label);
      th.addEventListener("click", function () {
        ascending = sortColumn === index ? !ascending : !column.num;
        sortColumn = index;
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        sortRows();
        page = 0;
        draw();
      });
      head.appendChild(th);
      return th;
    });
    const body = table.createTBody();
    const pager = el("div", "pager");
    const previous = el("button", "previous", "\u2190 previous");
    const next = el("button", "next", "next \u2192");
    const status = el("span", "status");
    previous.type = next.type = "button";
    pager.append(previous, status, next);
    wrapper.append(table, pager);
    container.appendChild(wrapper);

    function sortRows() {
      if (sortColumn < 0) { return; }
      const get = columns[sortColumn].get;
      shown.sort(function (a, b) { return compare(get(a), get(b), ascending); });
    }
    function filter() {
      const needle = input ? input.value.trim().toLowerCase() : "";
      shown = needle === "" ? positions.slice()
        : positions.filter(function (i) { return options.search(i).toLowerCase().includes(needle); });
      sortRows();
      page = 0;
      draw();
    }
    function draw() {
      const pages = Math.max(1, Math.ceil(shown.length / PAGE));
      page = Math.min(page, pages - 1);
      body.replaceChildren();
      shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (i) {
        const row = body.insertRow();
        columns.forEach(function (column) {
          const value = column.get(i);
          const cell = row.insertCell();
          cell.textContent = column.num ? fmt(value) : (value === null ? "" : String(value));
          if (column.num) { cell.className = "num"; cell.dataset.value = value === null ? "" : value; }
        });
      });
      const first = shown.length ? page * PAGE + 1 : 0;
      status.textContent = " rows " + first.toLocaleString() + "\u2013" +
        Math.min(shown.length, (page + 1) * PAGE).toLocaleString() + " of " +
        shown.length.toLocaleString() + " ";
      previous.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    previous.addEventListener("click", function () { page -= 1; draw(); });
    next.addEventListener("click", function () { page += 1; draw(); });
    if (input) { input.addEventListener("input", filter); }
    if (options.sort !== undefined) {
      sortColumn = options.sort;
      ascending = !!options.ascending;
      headers[sortColumn].setAttribute("aria-sort", ascending ? "ascending" : "descending");
      sortRows();
    }
    draw();
    return { table: table, input: input, filter: filter };
  }

  function range(n) { return Array.from({ length: n }, function (_, i) { return i; }); }

  // JSON has no infinity: the data block writes "inf" and "-inf" in its number arrays.
  function revive(values) {
    if (!values) { return; }
    for (let i = 0; i < values.length; i++) {
      if (values[i] === "inf") { values[i] = Infinity; } else if (values[i] === "-inf") { values[i] = -Infinity; }
    }
  }
  function reviveNumbers(block) {
    block.columns.forEach(function (name) { revive(block.rows[name]); });
    if (block.heatmap) { revive(block.heatmap.values); }
    if (block.on_target) { revive(block.on_target.lfc); revive(block.on_target.pval_adj); }
  }

  // The group of each looked-up row, from where each group's rows end.
  function rowGroups(block) {
    const rows = block.rows;
    if (!rows.group) {
      rows.group = new Int32Array(rows.rank.length);
      let start = 0;
      rows.group_ends.forEach(function (end, g) { rows.group.fill(g, start, end); start = end; });
    }
    return rows.group;
  }

  function resultColumns(block) {
    const rows = block.rows;
    const columns = [
      { label: "group", get: function (i) { return block.groups[rows.group[i]]; } },
      { label: "rank", num: true, get: function (i) { return rows.rank[i]; } },
      { label: "gene", get: function (i) { return genes[rows.gene[i]]; } },
    ];
    block.columns.forEach(function (name) {
      columns.push({ label: LABELS[name] || name, num: true, get: function (i) { return rows[name][i]; } });
    });
    return columns;
  }

  function topHits(container, block) {
    const rows = block.rows;
    const top = range(rows.rank.length).filter(function (i) { return rows.rank[i] <= block.top_n; });
    pagedTable(container, resultColumns(block), top, {
      search: function (i) { return block.groups[rows.group[i]] + "\u0000" + genes[rows.gene[i]]; },
      placeholder: "Filter by group or gene", className: "top-hits-table",
    });
  }

  function significance(container, block) {
    const counts = block.significant;
    if (!counts) {
      container.appendChild(el("p", "note", "This test reports no p-values (logreg): no counts."));
      return;
    }
    const columns = [
      { label: "group", get: function (i) { return block.groups[i]; } },
      { label: "cells", num: true, get: function (i) { return block.cells[i]; } },
      { label: "up", num: true, get: function (i) { return counts.up[i]; } },
      { label: "down", num: true, get: function (i) { return counts.down[i]; } },
      { label: "significant", num: true, get: function (i) { return counts.up[i] + counts.down[i]; } },
    ];
    if (block.truncated) {
      container.appendChild(el("p", "note", "Counted among the " + block.genes_per_group +
        " genes each group keeps (n_genes), not among every tested gene."));
    }
    pagedTable(container, columns, range(block.groups.length), {
      search: function (i) { return block.groups[i]; }, placeholder: "Filter groups",
      className: "significance-table", sort: 4, ascending: false,
    });
  }

  function lookup(container, block) {
    const rows = block.rows;
    const byName = new Map(), byLowerName = new Map();
    rows.gene.forEach(function (g, i) {
      if (!byName.has(genes[g])) { byName.set(genes[g], []); }
      byName.get(genes[g]).push(i);
      const lower = genes[g].toLowerCase();
      if (!byLowerName.has(lower)) { byLowerName.set(lower, genes[g]); }
    });
    const names = Array.from(new Set(rows.gene)).map(function (g) { return genes[g]; }).sort();
    const complete = 2 * block.depth >= block.genes_per_group;
    const input = el("input", "filter gene-lookup");
    input.type = "search";
    input.placeholder = "Type a gene";
    input.setAttribute("aria-label", "Gene lookup");
    const said = el("p", "lookup-summary");
    const out = el("div", "lookup-result");
    container.append(input, said, out);
    function show() {
      const query = input.value.trim();
      out.replaceChildren();
      said.textContent = "";
      if (query === "") { return; }
      // the exact name first; else the gene whose name differs only in case
      const found = byName.get(query) || byName.get(byLowerName.get(query.toLowerCase()));
      if (!found) {
        const lower = query.toLowerCase();
        const like = names.filter(function (n) { return n.toLowerCase().includes(lower); }).slice(0, 12);
        said.textContent = complete
          ? "No gene named " + JSON.stringify(query) + " was ranked."
          : "No group has " + JSON.stringify(query) + " among " + block.ends +
            " (or no gene is named so).";
        like.forEach(function (name) {
          const button = el("button", "suggestion", name);
          button.type = "button";
          button.addEventListener("click", function () { input.value = name; show(); });
          out.appendChild(button);
        });
        return;
      }
      const groups = new Set(found.map(function (i) { return rows.group[i]; })).size;
      said.textContent = genes[rows.gene[found[0]]] + ": " + (complete
        ? "ranked in " + groups + " of " + block.groups.length + " groups."
        : "among " + block.ends + " of " + groups.toLocaleString() + " of " +
          block.groups.length.toLocaleString() + " groups (the other groups rank it in between).");
      pagedTable(out, resultColumns(block), found, { className: "lookup-table", sort: 1, ascending: true });
    }
    input.addEventListener("input", show);
  }

  function colour(value, limit) {
    if (value === null) { return "#d9d9d9"; }
    const t = Math.max(-1, Math.min(1, value / limit));
    const fade = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? "rgb(255," + fade + "," + fade + ")" : "rgb(" + fade + "," + fade + ",255)";
  }

  function clusteredHeatmap(container, block) {
    const map = block.heatmap;
    if (!map) {
      container.appendChild(el("p", "note", "Too few groups or genes for a clustered heatmap."));
      return;
    }
    const nGroups = map.groups.length, nGenes = map.genes.length;
    const left = 110, top = 4, rowHeight = 14;
    const columnWidth = Math.max(0.25, Math.min(36, 1000 / nGroups));
    const labelled = columnWidth >= 10;
    const bottom = labelled ? 120 : 18;
    const canvas = el("canvas", "cluster-heatmap");
    canvas.width = Math.ceil(left + nGroups * columnWidth + 4);
    canvas.height = top + nGenes * rowHeight + bottom;
    const context = canvas.getContext("2d");
    context.font = "10px sans-serif";
    context.textBaseline = "middle";
    for (let g = 0; g < nGroups; g++) {
      const x0 = Math.floor(left + g * columnWidth);
      const width = Math.max(1, Math.ceil(left + (g + 1) * columnWidth) - x0);
      for (let k = 0; k < nGenes; k++) {
        context.fillStyle = colour(map.values[g * nGenes + k], map.limit);
        context.fillRect(x0, top + k * rowHeight, width, rowHeight);
      }
    }
    context.fillStyle = "#222";
    context.textAlign = "right";
    map.genes.forEach(function (gene, k) { context.fillText(gene, left - 4, top + (k + 0.5) * rowHeight, left - 8); });
    if (labelled) {
      map.groups.forEach(function (position, g) {
        context.save();
        context.translate(left + (g + 0.5) * columnWidth, top + nGenes * rowHeight + 4);
        context.rotate(-Math.PI / 2);
        context.fillText(block.groups[position], 0, 0, bottom - 8);
        context.restore();
      });
    } else {
      context.textAlign = "left";
      context.fillText(nGroups.toLocaleString() + " groups (hover for names)", left, top + nGenes * rowHeight + 10);
    }
    const tip = el("div", "tip");
    tip.hidden = true;
    const frame = el("div", "heatmap-frame");
    frame.append(canvas, tip);
    container.appendChild(frame);
    canvas.addEventListener("mousemove", function (event) {
      const box = canvas.getBoundingClientRect();
      const x = (event.clientX - box.left) * canvas.width / box.width;
      const y = (event.clientY - box.top) * canvas.height / box.height;
      const g = Math.floor((x - left) / columnWidth), k = Math.floor((y - top) / rowHeight);
      if (g < 0 || g >= nGroups || k < 0 || k >= nGenes) { tip.hidden = true; return; }
      tip.textContent = block.groups[map.groups[g]] + " \u00b7 " + map.genes[k] + ": " +
        (map.values[g * nGenes + k] === null ? "not ranked" : fmt(map.values[g * nGenes + k]));
      tip.style.left = (event.clientX - box.left + 12) + "px";
      tip.style.top = (event.clientY - box.top + 12) + "px";
      tip.hidden = false;
    });
    canvas.addEventListener("mouseleave", function () { tip.hidden = true; });
  }

  function onTarget(container, block) {
    const screen = block.on_target;
    if (screen.note) { container.appendChild(el("p", "note", screen.note)); return; }
    const share = screen.n_measured ? (100 * screen.n_down / screen.n_measured).toFixed(1) + "%" : "n/a";
    container.appendChild(el("p", "on-target-summary",
      "Targets significantly down (adjusted p < " + screen.p + ", log2 fold change < 0): " +
      screen.n_down.toLocaleString() + " of " + screen.n_measured.toLocaleString() +
      " perturbations whose target was ranked (" + share + "). " +
      (screen.n_perturbations - screen.n_measured).toLocaleString() + " of " +
      screen.n_perturbations.toLocaleString() + " perturbations have no ranked target gene" +
      (screen.kept_per_group ? " (n_genes keeps each group's top " + screen.kept_per_group +
        " genes only: a target outside them is not in the table, so these counts are not the" +
        " screen's)" : "") + ". " +
      "Control: " + screen.control + "."));
    const columns = [
      { label: "perturbation", get: function (i) { return block.groups[screen.group[i]]; } },
      { label: "target", get: function (i) { return screen.target[i]; } },
      { label: "cells", num: true, get: function (i) { return block.cells[screen.group[i]]; } },
      { label: "log2 fold change", num: true, get: function (i) { return screen.lfc[i]; } },
      { label: "rank", num: true, get: function (i) { return screen.rank[i]; } },
      { label: "of genes", num: true, get: function (i) { return screen.n_genes[i]; } },
      { label: "adjusted p", num: true, get: function (i) { return screen.pval_adj[i]; } },
      { label: "down", get: function (i) { return screen.rank[i] === null ? "not ranked" : (screen.down[i] ? "yes" : "no"); } },
    ];
    pagedTable(container, columns, range(screen.group.length), {
      search: function (i) { return block.groups[screen.group[i]] + "\u0000" + (screen.target[i] || ""); },
      placeholder: "Filter perturbations or targets", className: "on-target-table", sort: 3, ascending: true,
    });
  }

  const VIEWS = {
    "top-hits": topHits, "significance": significance, "lookup": lookup,
    "cluster": clusteredHeatmap, "on-target": onTarget,
  };
  document.querySelectorAll("[data-view]").forEach(function (container) {
    const block = data.comparisons[container.getAttribute("data-block")];
    if (block && !block.rows.group) { reviveNumbers(block); rowGroups(block); }
    if (block) { VIEWS[container.getAttribute("data-view")](container, block); }
  });
})();

/* dicomnet study browser: QIDO-RS search, series thumbnails, a rendered-frame viewer.
 * Plain JavaScript, no build step, no dependencies. Text from the archive is only ever
 * put into the page as text (textContent), never as markup. */
"use strict";

(function () {
  const body = document.body;
  const ROOT = body.dataset.serviceRoot;
  const BROWSER = body.dataset.browserRoot;
  const PAGE = 50;
  const $ = (id) => document.getElementById(id);

  const TAG = {
    patientName: "00100010", patientId: "00100020", studyDate: "00080020",
    studyTime: "00080030", accession: "00080050", studyDescription: "00081030",
    modalities: "00080061", studyUid: "0020000D", seriesCount: "00201206",
    studyInstances: "00201208", seriesUid: "0020000E", seriesNumber: "00200011",
    modality: "00080060", seriesDescription: "0008103E", seriesInstances: "00201209",
    sopUid: "00080018", instanceNumber: "00200013", frames: "00280008",
  };

  // ------------------------------------------------------------------ DICOM JSON

  function first(item, tag) {
    const element = item[tag];
    if (!element || !element.Value || element.Value.length === 0) return "";
    const value = element.Value[0];
    if (value && typeof value === "object" && "Alphabetic" in value) return value.Alphabetic || "";
    return value;
  }
  function all(item, tag) {
    const element = item[tag];
    return element && element.Value ? element.Value.join(", ") : "";
  }
  function personName(text) {
    return String(text || "").replace(/\^+$/, "").replace(/\^/g, ", ").replace(/=.*/, "");
  }
  function displayDate(text) {
    const s = String(text || "");
    return /^\d{8}$/.test(s) ? `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}` : s;
  }
  function number(text) {
    const n = parseInt(text, 10);
    return Number.isFinite(n) ? n : Number.MAX_SAFE_INTEGER;
  }

  async function qido(path, params) {
    const query = new URLSearchParams(params || {});
    const url = `${ROOT}${path}${query.toString() ? "?" + query : ""}`;
    const response = await fetch(url, { headers: { Accept: "application/dicom+json" } });
    if (response.status === 204) return [];
    if (!response.ok) throw new Error(`${response.status} ${response.statusText} from ${path}`);
    const text = await response.text();
    return text ? JSON.parse(text) : [];
  }

  // ------------------------------------------------------------------ page state

  function setStatus(text, error) {
    const status = $("status");
    status.textContent = text;
    status.classList.toggle("error", Boolean(error));
  }
  function show(view) {
    for (const id of ["search-view", "study-view", "viewer-view"]) $(id).hidden = id !== view;
  }
  function crumbs(items) {
    const list = $("crumbs");
    list.replaceChildren();
    items.forEach(([text, href], i) => {
      const li = document.createElement("li");
      if (href && i < items.length - 1) {
        const a = document.createElement("a");
        a.href = href;
        a.textContent = text;
        li.append(a);
      } else {
        li.textContent = text;
        li.setAttribute("aria-current", "page");
      }
      list.append(li);
    });
  }
  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.append(td);
    return td;
  }
  function link(text, href, label) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (label) a.setAttribute("aria-label", label);
    return a;
  }

  // ------------------------------------------------------------------ studies

  let searchParams = null;
  let searchOffset = 0;
  let searchNumber = 0;  // answers to an older search than the latest are dropped

  function searchQuery(form) {
    const params = { limit: String(PAGE + 1), includefield: "00081030,00080061,00201206,00201208" };
    const name = form.PatientName.value.trim();
    const id = form.PatientID.value.trim();
    if (name) params.PatientName = /[*?]/.test(name) ? name : `*${name}*`;
    if (id) params.PatientID = /[*?]/.test(id) ? id : `${id}*`;
    const from = form.from.value.replace(/-/g, "");
    const to = form.to.value.replace(/-/g, "");
    if (from || to) params.StudyDate = from === to ? from : `${from}-${to}`;
    if (form.ModalitiesInStudy.value) params.ModalitiesInStudy = form.ModalitiesInStudy.value;
    return params;
  }

  async function searchStudies(append) {
    const table = $("studies");
    const tbody = table.tBodies[0];
    setStatus("Searching\u2026");
    const mine = ++searchNumber;
    let studies;
    try {
      studies = await qido("/studies", { ...searchParams, offset: String(searchOffset) });
    } catch (error) {
      if (mine === searchNumber) setStatus(`Search failed: ${error.message}`, true);
      return;
    }
    if (mine !== searchNumber) return;
    const more = studies.length > PAGE;
    studies = studies.slice(0, PAGE);
    if (!append) tbody.replaceChildren();
    for (const study of studies) {
      const uid = first(study, TAG.studyUid);
      const row = document.createElement("tr");
      const nameCell = cell(row, "");
      const name = personName(first(study, TAG.patientName)) || "(no name)";
      nameCell.append(link(name, `#/study/${encodeURIComponent(uid)}`, `Open study of ${name}`));
      cell(row, first(study, TAG.patientId));
      cell(row, displayDate(first(study, TAG.studyDate)));
      cell(row, first(study, TAG.studyDescription));
      cell(row, all(study, TAG.modalities));
      cell(row, String(first(study, TAG.seriesCount)));
      cell(row, String(first(study, TAG.studyInstances)));
      const zip = cell(row, "");
      zip.append(link("ZIP", `${BROWSER}/studies/${encodeURIComponent(uid)}/download`,
        `Download the study of ${name} as ZIP`));
      row.dataset.studyUid = uid;
      tbody.append(row);
    }
    const count = tbody.rows.length;
    table.hidden = count === 0;
    $("studies-caption").textContent = `Studies (${count}${more ? "+" : ""})`;
    $("study-pager").hidden = !more;
    searchOffset += studies.length;
    setStatus(count === 0 ? "No studies found." : `${count}${more ? "+" : ""} ${count === 1 ? "study" : "studies"} found.`);
  }

  function showSearch() {
    show("search-view");
    crumbs([["Studies", "#/"]]);
    document.title = "Studies \u2013 dicomnet";
    if (searchParams === null) {
      searchParams = searchQuery($("search-form"));
      searchOffset = 0;
      searchStudies(false);
    }
  }

  // ------------------------------------------------------------------ one study

  async function showStudy(studyUid) {
    show("study-view");
    crumbs([["Studies", "#/"], ["Study", null]]);
    setStatus("Loading study\u2026");
    let studies, series;
    try {
      [studies, series] = await Promise.all([
        qido("/studies", { StudyInstanceUID: studyUid, includefield: "00081030,00080061,00080050" }),
        qido(`/studies/${encodeURIComponent(studyUid)}/series`, { includefield: "0008103E,00201209" }),
      ]);
    } catch (error) {
      setStatus(`Could not load the study: ${error.message}`, true);
      return;
    }
    const study = studies[0] || {};
    const name = personName(first(study, TAG.patientName)) || "(no name)";
    $("study-heading").textContent = `Study of ${name}`;
    document.title = `${name} \u2013 dicomnet`;
    const facts = $("study-facts");
    facts.replaceChildren();
    for (const [label, value] of [
      ["Patient ID", first(study, TAG.patientId)],
      ["Date", displayDate(first(study, TAG.studyDate))],
      ["Description", first(study, TAG.studyDescription)],
      ["Accession", first(study, TAG.accession)],
      ["Modalities", all(study, TAG.modalities)],
    ]) {
      if (!value) continue;
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = value;
      facts.append(dt, dd);
    }
    $("study-download").href = `${BROWSER}/studies/${encodeURIComponent(studyUid)}/download`;
    series.sort((a, b) => number(first(a, TAG.seriesNumber)) - number(first(b, TAG.seriesNumber)));
    const list = $("series-list");
    list.replaceChildren();
    for (const item of series) {
      const seriesUid = first(item, TAG.seriesUid);
      const label = [`Series ${first(item, TAG.seriesNumber)}`, first(item, TAG.modality)]
        .filter(Boolean).join(" \u2013 ");
      const description = first(item, TAG.seriesDescription);
      const count = first(item, TAG.seriesInstances);
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `#/view/${encodeURIComponent(studyUid)}/${encodeURIComponent(seriesUid)}`;
      a.dataset.seriesUid = seriesUid;
      const img = document.createElement("img");
      img.src = `${ROOT}/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}/thumbnail?viewport=256,256`;
      img.alt = `Thumbnail of ${label}${description ? ", " + description : ""}`;
      img.loading = "lazy";
      img.className = "thumb";
      img.addEventListener("error", () => {
        const none = document.createElement("span");
        none.className = "no-thumb";
        none.textContent = "No picture";
        img.replaceWith(none);
      });
      const title = document.createElement("span");
      title.className = "label";
      title.textContent = label;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = [description, count !== "" ? `${count} image${count === 1 ? "" : "s"}` : ""]
        .filter(Boolean).join(" \u00b7 ");
      a.append(img, title, meta);
      li.append(a);
      list.append(li);
    }
    setStatus(`${series.length} series.`);
  }

  // ------------------------------------------------------------------ viewer

  const view = {
    study: "", series: "", instances: [], position: 0, frame: 1, frames: 1,
    center: 0, width: 1, fn: "linear", info: null, loading: false, pending: false, drawing: null,
  };

  function renderedUrl() {
    const instance = view.instances[view.position];
    const base = `${ROOT}/studies/${encodeURIComponent(view.study)}/series/${encodeURIComponent(view.series)}` +
      `/instances/${encodeURIComponent(instance)}/frames/${view.frame}/rendered`;
    const params = new URLSearchParams({ accept: "image/png" });
    if (view.info && !view.info.color) {
      params.set("window", `${round(view.center)},${round(Math.max(view.width, 1))},${view.fn}`);
    }
    // a picture larger than the stage is scaled down by the server: less to send and decode
    const stage = $("stage");
    const scale = window.devicePixelRatio || 1;
    const vw = Math.max(64, Math.round(stage.clientWidth * scale));
    const vh = Math.max(64, Math.round(stage.clientHeight * scale));
    if (view.info && (view.info.columns > vw || view.info.rows > vh)) {
      params.set("viewport", `${Math.min(vw, 4096)},${Math.min(vh, 4096)}`);
    }
    return `${base}?${params}`;
  }
  function round(value) {
    return Math.round(value * 100) / 100;
  }

  function draw() {
    if (!view.info) return;
    if (view.loading) {
      view.pending = true;
      return;
    }
    const img = $("frame-image");
    view.loading = true;
    img.dataset.state = "loading";
    view.drawing = { window: `${round(view.center)},${round(view.width)}`, frame: String(view.frame) };
    img.src = renderedUrl();
    img.alt = `Image ${view.position + 1} of ${view.instances.length}, frame ${view.frame} of ${view.frames}` +
      (view.info.color ? "" : `, window centre ${round(view.center)}, width ${round(view.width)}`);
  }
  function drawn(ok) {
    const img = $("frame-image");
    view.loading = false;
    img.dataset.state = ok ? "ready" : "error";
    img.dataset.window = view.drawing.window;  // what this picture was asked with
    img.dataset.frame = view.drawing.frame;
    if (!ok) setStatus("The image could not be rendered.", true);
    if (view.pending) {
      view.pending = false;
      draw();
    }
  }

  function syncInputs() {
    const gray = view.info && !view.info.color;
    $("wl-center").value = gray ? String(round(view.center)) : "";
    $("wl-width").value = gray ? String(round(view.width)) : "";
    $("frame-number").value = String(view.frame);
    $("frame-number").max = String(view.frames);
    $("frame-total").textContent = `of ${view.frames}`;
    $("frame-prev").disabled = view.frame <= 1;
    $("frame-next").disabled = view.frame >= view.frames;
    $("instance-position").textContent = `${view.position + 1} of ${view.instances.length}`;
    $("instance-prev").disabled = view.position <= 0;
    $("instance-next").disabled = view.position >= view.instances.length - 1;
  }

  function setWindow(center, width) {
    if (!Number.isFinite(center) || !Number.isFinite(width)) return;
    view.center = center;
    view.width = Math.max(width, 1);
    syncInputs();
    draw();
  }
  function resetWindow() {
    if (!view.info || view.info.color) return;
    view.fn = view.info.function || "linear";
    $("wl-preset").value = "";
    setWindow(view.info.center, view.info.width);
  }
  function goFrame(frame) {
    const next = Math.min(Math.max(1, frame), view.frames);
    if (next === view.frame) return;
    view.frame = next;
    syncInputs();
    draw();
  }
  async function goInstance(position, keepWindow) {
    if (position < 0 || position >= view.instances.length) return;
    view.position = position;
    const instance = view.instances[position];
    const response = await fetch(`${BROWSER}/display/${encodeURIComponent(view.study)}/` +
      `${encodeURIComponent(view.series)}/${encodeURIComponent(instance)}`);
    if (!response.ok) {
      setStatus(`This image cannot be shown (${response.status}).`, true);
      return;
    }
    const info = await response.json();
    const hadWindow = view.info && !view.info.color;
    view.info = info;
    view.frames = info.frames;
    view.frame = Math.min(view.frame, info.frames) || 1;
    $("window-controls").disabled = Boolean(info.color);
    $("drag-hint").textContent = info.color
      ? "Colour image: the window does not apply."
      : "Drag on the image: left/right changes the width, up/down the centre.";
    if (!info.color && !(keepWindow && hadWindow)) {
      view.fn = info.function || "linear";
      view.center = info.center;
      view.width = info.width;
    }
    history.replaceState(null, "", `#/view/${encodeURIComponent(view.study)}/` +
      `${encodeURIComponent(view.series)}/${encodeURIComponent(instance)}`);
    syncInputs();
    setStatus(`Image ${position + 1} of ${view.instances.length}` +
      (info.frames > 1 ? `, ${info.frames} frames` : "") +
      (info.color ? " (colour)" : `; window from the ${info.window_source}`) + ".");
    draw();
  }

  async function showViewer(studyUid, seriesUid, instanceUid) {
    show("viewer-view");
    crumbs([["Studies", "#/"], ["Study", `#/study/${encodeURIComponent(studyUid)}`], ["Image", null]]);
    setStatus("Loading series\u2026");
    let instances;
    try {
      instances = await qido(`/studies/${encodeURIComponent(studyUid)}/series/${encodeURIComponent(seriesUid)}/instances`,
        { includefield: "00280008" });
    } catch (error) {
      setStatus(`Could not load the series: ${error.message}`, true);
      return;
    }
    instances.sort((a, b) => number(first(a, TAG.instanceNumber)) - number(first(b, TAG.instanceNumber)) ||
      String(first(a, TAG.sopUid)).localeCompare(String(first(b, TAG.sopUid))));
    view.study = studyUid;
    view.series = seriesUid;
    view.instances = instances.map((item) => first(item, TAG.sopUid));
    view.info = null;
    view.frame = 1;
    if (view.instances.length === 0) {
      setStatus("This series holds no images.", true);
      return;
    }
    const position = Math.max(0, view.instances.indexOf(instanceUid));
    $("viewer-heading").textContent = "Image viewer";
    document.title = "Viewer \u2013 dicomnet";
    await goInstance(position, false);
    $("stage").focus();
  }

  // ------------------------------------------------------------------ wiring

  function route(event) {
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    if (parts[0] === "study" && parts[1]) showStudy(parts[1]);
    else if (parts[0] === "view" && parts[1] && parts[2]) {
      if (view.study === parts[1] && view.series === parts[2] && view.instances.includes(parts[3]) &&
          !$("viewer-view").hidden) return;  // our own replaceState
      showViewer(parts[1], parts[2], parts[3] || "");
    } else showSearch();
    if (event) $("main").focus({ preventScroll: true });  // a new view: start reading there
  }

  function wire() {
    $("search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      searchParams = searchQuery(event.target);
      searchOffset = 0;
      if (location.hash && location.hash !== "#/") location.hash = "#/";
      searchStudies(false);
    });
    $("search-form").addEventListener("reset", () => {
      $("studies").hidden = true;
      $("study-pager").hidden = true;
      setStatus("");
    });
    $("more-studies").addEventListener("click", () => searchStudies(true));

    const img = $("frame-image");
    img.addEventListener("load", () => drawn(true));
    img.addEventListener("error", () => drawn(false));

    $("wl-center").addEventListener("change", () => setWindow(parseFloat($("wl-center").value), view.width));
    $("wl-width").addEventListener("change", () => setWindow(view.center, parseFloat($("wl-width").value)));
    $("wl-preset").addEventListener("change", (event) => {
      if (!event.target.value) return resetWindow();
      const [c, w] = event.target.value.split(",").map(Number);
      view.fn = "linear";
      setWindow(c, w);
    });
    $("wl-reset").addEventListener("click", resetWindow);
    $("frame-prev").addEventListener("click", () => goFrame(view.frame - 1));
    $("frame-next").addEventListener("click", () => goFrame(view.frame + 1));
    $("frame-number").addEventListener("change", () => goFrame(parseInt($("frame-number").value, 10) || 1));
    $("instance-prev").addEventListener("click", () => goInstance(view.position - 1, true));
    $("instance-next").addEventListener("click", () => goInstance(view.position + 1, true));
    $("controls").addEventListener("submit", (event) => event.preventDefault());

    // Drag to window: right widens, up raises the centre; the step follows the width.
    const stage = $("stage");
    stage.tabIndex = 0;
    stage.setAttribute("role", "application");
    stage.setAttribute("aria-label",
      "Image. Arrow up and down change the window centre, shift with arrow left and right its width.");
    let drag = null;
    stage.addEventListener("pointerdown", (event) => {
      if (!view.info || view.info.color) return;
      drag = { x: event.clientX, y: event.clientY, center: view.center, width: view.width };
      stage.setPointerCapture(event.pointerId);
      event.preventDefault();
    });
    stage.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const step = Math.max(drag.width / 256, 0.01);
      $("wl-preset").value = "";
      setWindow(drag.center - (event.clientY - drag.y) * step, drag.width + (event.clientX - drag.x) * step);
    });
    const stop = () => { drag = null; };
    stage.addEventListener("pointerup", stop);
    stage.addEventListener("pointercancel", stop);

    document.addEventListener("keydown", (event) => {
      if ($("viewer-view").hidden) return;
      const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
      if (event.key === "PageDown") { goInstance(view.position + 1, true); event.preventDefault(); return; }
      if (event.key === "PageUp") { goInstance(view.position - 1, true); event.preventDefault(); return; }
      if (typing) return;
      const step = Math.max(view.width / 20, 1);
      if (event.key === "ArrowRight" && event.shiftKey) setWindow(view.center, view.width + step);
      else if (event.key === "ArrowLeft" && event.shiftKey) setWindow(view.center, view.width - step);
      else if (event.key === "ArrowRight") goFrame(view.frame + 1);
      else if (event.key === "ArrowLeft") goFrame(view.frame - 1);
      else if (event.key === "ArrowUp" && document.activeElement === stage) setWindow(view.center + step, view.width);
      else if (event.key === "ArrowDown" && document.activeElement === stage) setWindow(view.center - step, view.width);
      else if (event.key === "r" || event.key === "R") resetWindow();
      else return;
      event.preventDefault();
    });
    window.addEventListener("hashchange", route);
  }

  wire();
  route();
})();

// The analyst console: the privacy budget, questions priced before they run, results with their
// 95% intervals as charts, and the ledger. Everything through the public API, as the analyst.
import { ApiError, gql, h, replace, signInForm, status, token } from "./api.js";

const VALUE = "value ci95Low ci95High noiseScale sensitivity";
const RESULT = {
  distinctUsers: `... on AudienceCount { count { ${VALUE} } epsilonCharged }`,
  usersBy: `... on AudienceBreakdown { threshold groups { keys count { ${VALUE} } } epsilonCharged }`,
  histogram: `... on Histogram { bins { lower upper count { ${VALUE} } } epsilonCharged }`,
  funnel: `... on Funnel { groups { key viewed { ${VALUE} } addedToCart { ${VALUE} } purchased { ${VALUE} } } epsilonCharged }`,
  orderValueSum: `... on OrderValueSum { sum { ${VALUE} } epsilonCharged }`,
  orderValueMean: `... on OrderValueMean { mean { ${VALUE} } epsilonCharged }`,
  medianOrderValue: `... on MedianOrderValue { median { ${VALUE} } epsilonCharged }`,
};
const REFUSED = `... on BudgetExhausted { message epsilonRemaining } ... on InvalidInput { message errors { field message } } ... on ReleaseFailed { message }`;
const OVERVIEW = `{ privacyBudget { cap spent remaining } privacyLedger(limit: 10) { id kind epsilon delta queries at } }`;
const ESTIMATE = `query($q: String!, $v: JSON) { estimateCost(query: $q, variables: $v) {
  __typename ... on CostEstimate { epsilon delta aggregates alreadyPaid } ... on InvalidInput { errors { message } } } }`;

const form = () => Object.fromEntries(new FormData(document.getElementById("ask")));

// The GraphQL document for the question in the form (epsilon as a variable, the rest literal:
// every value comes from a fixed list of options).
function question() {
  const f = form();
  const args = ["epsilon: $e", `filter: { window: ${f.window} }`];
  if (f.template === "usersBy") args.push(`dimensions: [${f.dimension}]`);
  if (f.template === "funnel") args.push(`dimension: ${f.dimension}`);
  if (f.template === "histogram") args.push(`metric: ${f.metric}`);
  const query = `query Ask($e: Float!) { result: ${f.template}(${args.join(", ")}) { __typename ${RESULT[f.template]} ${REFUSED} } }`;
  return { query, variables: { e: Number(f.epsilon) } };
}

function showFields() {
  const template = document.getElementById("template").value;
  for (const field of document.querySelectorAll("[data-for]")) {
    field.hidden = !field.dataset.for.split(" ").includes(template);
  }
  document.getElementById("run").disabled = true;
  document.getElementById("cost").textContent = "";
}

function renderBudget(budget) {
  const cap = Number(budget.cap);
  const spent = Number(budget.spent);
  replace(
    "budget",
    h("label", { for: "budget-meter", text: `Spent ${spent.toFixed(2)} of ${cap.toFixed(2)} epsilon` }),
    h("meter", { id: "budget-meter", min: 0, max: cap || 1, value: spent, low: cap * 0.6, high: cap * 0.85, optimum: 0 }),
    h("p", { class: "meta", text: `${Number(budget.remaining).toFixed(2)} left` }),
  );
}

function renderLedger(entries) {
  if (!entries.length) {
    replace("ledger", h("p", { class: "meta", text: "Nothing charged yet." }));
    return;
  }
  replace(
    "ledger",
    h(
      "table",
      {},
      h("caption", { text: "Your most recent ledger events" }),
      h("thead", {}, h("tr", {}, ["When", "What", "Epsilon", "Delta", "Releases"].map((t) => h("th", { scope: "col", text: t })))),
      h(
        "tbody",
        {},
        entries.map((e) =>
          h("tr", {}, [new Date(e.at).toLocaleString(), e.kind, e.epsilon, e.delta, String(e.queries)].map((t) => h("td", { text: t }))),
        ),
      ),
    ),
  );
}

async function overview() {
  const data = await gql(OVERVIEW);
  renderBudget(data.privacyBudget);
  renderLedger(data.privacyLedger);
}

// Bars with their 95% interval, drawn as SVG; the same numbers in a table for screen readers.
function chart(rows, caption) {
  const width = 640;
  const barH = 26;
  const left = 150;
  const height = rows.length * (barH + 10) + 30;
  const max = Math.max(1, ...rows.map((r) => r.value.ci95High));
  const x = (v) => left + (Math.max(0, v) / max) * (width - left - 20);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${caption}: bars with 95% intervals`);
  rows.forEach((r, i) => {
    const y = 10 + i * (barH + 10);
    const add = (tag, attrs, text) => {
      const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
      if (text) node.textContent = text;
      svg.append(node);
      return node;
    };
    add("text", { x: left - 8, y: y + barH * 0.7, "text-anchor": "end", class: "label" }, r.label);
    add("rect", { x: left, y, width: Math.max(1, x(r.value.value) - left), height: barH, class: "bar" });
    add("line", { x1: x(r.value.ci95Low), x2: x(r.value.ci95High), y1: y + barH / 2, y2: y + barH / 2, class: "interval" });
    for (const end of [r.value.ci95Low, r.value.ci95High]) {
      add("line", { x1: x(end), x2: x(end), y1: y + 4, y2: y + barH - 4, class: "interval" });
    }
  });
  const table = h(
    "table",
    {},
    h("caption", { text: caption }),
    h("thead", {}, h("tr", {}, ["Group", "Value", "95% interval", "Noise scale"].map((t) => h("th", { scope: "col", text: t })))),
    h(
      "tbody",
      {},
      rows.map((r) =>
        h("tr", {}, [r.label, fmt(r.value.value), `${fmt(r.value.ci95Low)} – ${fmt(r.value.ci95High)}`, fmt(r.value.noiseScale)].map((t) => h("td", { text: t }))),
      ),
    ),
  );
  return [h("figure", {}, svg, h("figcaption", { text: `${caption} (bars: released values; lines: 95% intervals with the noise)` })), table];
}

const fmt = (n) => Number(n).toLocaleString(undefined, { maximumFractionDigits: 1 });

function rowsOf(result) {
  switch (result.__typename) {
    case "AudienceBreakdown":
      return result.groups.map((g) => ({ label: g.keys.join(" × "), value: g.count }));
    case "Histogram":
      return result.bins.map((b) => ({ label: b.upper === null ? `${b.lower}+` : `${b.lower}–${b.upper}`, value: b.count }));
    case "Funnel":
      return result.groups.flatMap((g) => [
        { label: `${g.key}: viewed`, value: g.viewed },
        { label: `${g.key}: carted`, value: g.addedToCart },
        { label: `${g.key}: bought`, value: g.purchased },
      ]);
    case "AudienceCount":
      return [{ label: "users", value: result.count }];
    case "OrderValueSum":
      return [{ label: "total (cents)", value: result.sum }];
    case "OrderValueMean":
      return [{ label: "mean (cents)", value: result.mean }];
    case "MedianOrderValue":
      return [{ label: "median (cents)", value: result.median }];
    default:
      return [];
  }
}

async function estimate() {
  const { query, variables } = question();
  try {
    const data = await gql(ESTIMATE, { q: query, v: variables });
    const cost = data.estimateCost;
    if (cost.__typename !== "CostEstimate") throw new ApiError(cost.errors.map((e) => e.message).join(" "));
    document.getElementById("cost").textContent = `This question costs ${cost.epsilon} epsilon and ${cost.delta} delta.`;
    const run = document.getElementById("run");
    run.disabled = false;
    run.focus();
  } catch (error) {
    status(`Could not price the question: ${error.message}`, "error");
  }
}

async function run(event) {
  event.preventDefault();
  const { query, variables } = question();
  status("Running…");
  try {
    const data = await gql(query, variables);
    const result = data.result;
    if (["BudgetExhausted", "InvalidInput", "ReleaseFailed"].includes(result.__typename)) {
      status(`Refused: ${result.message}`, "error");
      return;
    }
    const caption = `${document.getElementById("template").selectedOptions[0].textContent} — epsilon ${result.epsilonCharged} charged`;
    replace("result", chart(rowsOf(result), caption));
    document.getElementById("run").disabled = true;
    status("Done.", "ok");
    await overview();
  } catch (error) {
    status(`Failed: ${error.message}`, "error");
  }
}

async function start() {
  if (!token()) {
    status("Sign in to see your budget.");
    replace("signin", signInForm(() => { replace("signin"); start(); }));
    return;
  }
  try {
    await overview();
    document.getElementById("content").hidden = false;
    status("");
  } catch (error) {
    status(`Could not load: ${error.message}`, "error");
  }
}

document.getElementById("template").addEventListener("change", showFields);
for (const id of ["dimension", "metric", "window", "epsilon"]) {
  document.getElementById(id).addEventListener("change", () => { document.getElementById("run").disabled = true; });
}
document.getElementById("estimate").addEventListener("click", estimate);
document.getElementById("ask").addEventListener("submit", run);
showFields();
start();

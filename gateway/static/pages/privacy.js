// The privacy center: the signed-in person's own data and choices, all through the public API.
import { ApiError, gql, h, replace, signInForm, status, token } from "./api.js";

const VIEW = `{ viewer {
  id personalizationLevel preferredChannel
  feed(surface: HOME, limit: 3) { item { id name } why { mode summary purposes reasons { code text } } }
  inferences { key kind value hidden why { summary matchedCriteria } }
  consent { purpose title granted effective reason notice { text } }
  controls { kind target appliedAt }
  channels { channel subscribed preferred consented usable purpose }
  customization { version theme accent fontScale density layout }
}
customizationOptions { themes accents { name hex } fontScales densities layouts } }`;
const SET_SETTINGS = `mutation($s: CustomizationInput!, $v: Int) { setCustomization(settings: $s, expectedVersion: $v) {
  __typename ... on InvalidInput { errors { field message } } } }`;
const RESET_SETTINGS = `mutation($v: Int) { resetCustomization(expectedVersion: $v) {
  __typename ... on InvalidInput { errors { field message } } } }`;
const SET_CONSENT = `mutation($p: String!, $g: Boolean!) { setConsent(purpose: $p, granted: $g) {
  __typename ... on InvalidInput { errors { message } } } }`;
const SET_LEVEL = `mutation($l: PersonalizationLevel!) { setPersonalizationLevel(level: $l) { level } }`;
const APPLY = `mutation($k: ControlKind!, $t: String!) { applyControl(kind: $k, target: $t) {
  __typename ... on InvalidInput { errors { message } } } }`;
const UNDO = `mutation($k: ControlKind!, $t: String!) { undoControl(kind: $k, target: $t) {
  __typename ... on InvalidInput { errors { message } } } }`;
const PREFERRED = `mutation($c: Channel!) { setPreferredChannel(channel: $c) { channel } }`;
const SUBSCRIBE = `mutation($c: Channel!, $s: Boolean!) { setChannelSubscription(channel: $c, subscribed: $s) { channel } }`;
const EXPORT = `mutation { requestDataExport { format generatedAt complete data download { url expiresAt } } }`;
const ERASE = `mutation { eraseMyData(confirm: true) { __typename ... on ErasureDone { rowsDeleted } } }`;
const LEVELS = [
  ["NONE", "None", "What everyone sees: nothing about you is used."],
  ["BASIC", "Basic", "Only what you told us, such as the interests you chose."],
  ["FULL", "Full", "Your activity here too, for the purposes you allow below."],
];
const CHANNELS = { EMAIL: "Email", SMS: "Text message", PUSH: "Notifications", IN_APP: "In the app" };

async function act(message, run) {
  status("Saving…");
  try {
    const data = await run();
    const result = data && Object.values(data)[0];
    if (result && result.__typename === "InvalidInput") {
      throw new ApiError(result.errors.map((e) => e.message).join(" "));
    }
    await load(); // the page shows the next request's answer before it says it is saved
    status(message, "ok");
  } catch (error) {
    status(`Not saved: ${error.message}`, "error");
  }
}

function renderFeed(items) {
  replace(
    "feed",
    items.map((row) =>
      h(
        "li",
        { class: "card", "data-mode": row.why.mode },
        h("h3", { text: row.item.name }),
        h("p", { class: "why", text: row.why.summary }),
        h("p", { class: "meta", text: row.why.mode === "PERSONALIZED" ? `Uses: ${row.why.purposes.join(", ")}` : "Not based on your data" }),
      ),
    ),
  );
}

function renderInferences(inferences) {
  replace(
    "inferences",
    inferences.length ? inferences.map((inf) => {
      const label = `${inf.kind === "tag" ? "Tag" : "Audience"}: ${inf.value ?? inf.key}`;
      const button = inf.hidden
        ? h("button", { type: "button", onclick: () => act(`${label} is used again.`, () => gql(UNDO, { k: "HIDE", t: inf.key })) }, "Use again")
        : h("button", { type: "button", onclick: () => act(`${label} is hidden.`, () => gql(APPLY, { k: "HIDE", t: inf.key })) }, "Hide");
      button.setAttribute("aria-label", `${button.textContent}: ${label}`);
      return h(
        "li",
        { class: "card" },
        h("h3", { text: label }),
        h("p", { class: "why", text: inf.hidden ? "You hid this; it is not used." : inf.why?.summary ?? "" }),
        button,
      );
    }) : h("li", { class: "card", text: "Nothing is inferred about you." }),
  );
}

function renderConsent(consent) {
  replace(
    "consent",
    consent.map((c) => {
      const id = `consent-${c.purpose.replaceAll(".", "-")}`;
      const box = h("input", {
        type: "checkbox",
        id,
        role: "switch",
        checked: c.granted,
        disabled: c.purpose === "essential.service",
        "aria-describedby": `${id}-notice`,
        onchange: (event) => act(
          `${c.title}: ${event.target.checked ? "allowed" : "not allowed"}.`,
          () => gql(SET_CONSENT, { p: c.purpose, g: event.target.checked }),
        ),
      });
      return h(
        "li",
        { class: "card", "data-purpose": c.purpose },
        h("div", { class: "switch" }, box, h("label", { for: id, text: c.title })),
        h("p", { id: `${id}-notice`, class: "notice", text: c.notice.text }),
        h("p", { class: "meta", text: c.effective ? "In effect" : `Not in effect: ${c.reason}` }),
      );
    }),
  );
}

function renderLevel(level) {
  const fieldset = document.getElementById("level");
  fieldset.replaceChildren(
    h("legend", { text: "Choose a level" }),
    ...LEVELS.map(([value, title, text]) =>
      h(
        "div",
        { class: "choice" },
        h("input", {
          type: "radio",
          name: "level",
          id: `level-${value}`,
          value,
          checked: value === level,
          "aria-describedby": `level-${value}-text`,
          onchange: () => act(`Personalization level: ${title}.`, () => gql(SET_LEVEL, { l: value })),
        }),
        h("label", { for: `level-${value}`, text: title }),
        h("span", { id: `level-${value}-text`, class: "meta", text }),
      ),
    ),
  );
}

function renderControls(controls) {
  replace(
    "controls",
    controls.length ? controls.map((c) =>
      h(
        "li",
        { class: "card" },
        h("h3", { text: `${c.kind.replaceAll("_", " ").toLowerCase()}: ${c.target}` }),
        h("p", { class: "meta", text: `Since ${new Date(c.appliedAt).toLocaleString()}` }),
        h("button", {
          type: "button",
          "aria-label": `Undo ${c.kind.replaceAll("_", " ").toLowerCase()} ${c.target}`,
          onclick: () => act(`Undone: ${c.target}.`, () => gql(UNDO, { k: c.kind, t: c.target })),
        }, "Undo"),
      ),
    ) : h("li", { class: "card", text: "You have not hidden anything." }),
  );
}

function renderChannels(channels, preferred) {
  const select = h(
    "select",
    {
      id: "preferred",
      onchange: (event) => act("Preferred channel saved.", () => gql(PREFERRED, { c: event.target.value })),
    },
    channels.map((c) => h("option", { value: c.channel, selected: c.preferred, text: CHANNELS[c.channel] ?? c.channel })),
  );
  replace(
    "channels",
    h("div", { class: "field" }, h("label", { for: "preferred", text: "Reminders go to" }), select),
    h(
      "ul",
      { class: "cards" },
      channels.map((c) => {
        const id = `channel-${c.channel}`;
        return h(
          "li",
          { class: "card" },
          h("div", { class: "switch" },
            h("input", {
              type: "checkbox",
              id,
              role: "switch",
              checked: c.subscribed,
              onchange: (event) => act(
                `${CHANNELS[c.channel]}: ${event.target.checked ? "subscribed" : "unsubscribed"}.`,
                () => gql(SUBSCRIBE, { c: c.channel, s: event.target.checked }),
              ),
            }),
            h("label", { for: id, text: CHANNELS[c.channel] ?? c.channel })),
          h("p", { class: "meta", text: c.usable ? "Reminders may use it" : c.consented ? "Subscribe and choose it to get reminders" : `Needs your consent: ${c.purpose}` }),
        );
      }),
    ),
  );
}

const THEMES = { LIGHT: "Light", DARK: "Dark", SYSTEM: "Like my device" };
const DENSITIES = { COMPACT: "Compact", COMFORTABLE: "Standard", SPACIOUS: "Spacious" };
const LAYOUTS = { "": "Let the app decide", SIMPLE: "Simple", FULL: "Full" };

function choice(id, label, options, selected) {
  return h(
    "div",
    { class: "field" },
    h("label", { for: id, text: label }),
    h("select", { id, name: id },
      options.map(([value, text]) => h("option", { value, selected: value === selected, text }))),
  );
}

function renderSettings(current, options) {
  const form = document.getElementById("settings");
  const accents = [["", "The app's own"], ...options.accents.map((a) => [a.name, a.name])];
  form.replaceChildren(
    choice("settings-theme", "Colours", options.themes.map((t) => [t, THEMES[t] ?? t]), current.theme),
    choice("settings-accent", "Accent colour", accents, current.accent ?? ""),
    choice("settings-font", "Text size", options.fontScales.map((f) => [String(f), `${Math.round(f * 100)}%`]), String(current.fontScale)),
    choice("settings-density", "Spacing", options.densities.map((d) => [d, DENSITIES[d] ?? d]), current.density),
    choice("settings-layout", "Layout", [["", LAYOUTS[""]], ...options.layouts.map((l) => [l, LAYOUTS[l] ?? l])], current.layout ?? ""),
    h("div", { class: "actions" },
      h("button", { type: "submit", id: "settings-save" }, "Save my settings"),
      h("button", {
        type: "button",
        id: "settings-reset",
        onclick: () => act("Your settings are back to the standard.", () => gql(RESET_SETTINGS, { v: current.version })),
      }, "Back to the standard")),
  );
  form.onsubmit = (event) => {
    event.preventDefault();
    const value = (id) => document.getElementById(id).value;
    const settings = {
      theme: value("settings-theme"),
      accent: value("settings-accent") || null,
      fontScale: Number(value("settings-font")),
      density: value("settings-density"),
      layout: value("settings-layout") || null,
    };
    act("Your settings are saved.", () => gql(SET_SETTINGS, { s: settings, v: current.version }));
  };
}

async function load() {
  const data = await gql(VIEW);
  const viewer = data.viewer;
  if (!viewer) {
    status("This account is not known here.", "error");
    return;
  }
  document.getElementById("content").hidden = false;
  renderFeed(viewer.feed);
  renderInferences(viewer.inferences);
  renderConsent(viewer.consent);
  renderLevel(viewer.personalizationLevel);
  renderControls(viewer.controls);
  renderChannels(viewer.channels, viewer.preferredChannel);
  renderSettings(viewer.customization, data.customizationOptions);
}

function wireData() {
  document.getElementById("export").addEventListener("click", async () => {
    status("Preparing your data…");
    try {
      const data = await gql(EXPORT);
      const result = data.requestDataExport;
      const link = document.getElementById("export-link");
      if (result.complete) {
        const blob = new Blob([JSON.stringify(result.data, null, 2)], { type: "application/json" });
        link.href = URL.createObjectURL(blob);
      } else {
        // A long history: the complete export is streamed from a link valid for a few minutes.
        link.href = result.download.url;
      }
      link.hidden = false;
      link.focus();
      status("Your data is ready: use the link to save it.", "ok");
    } catch (error) {
      status(`No export: ${error.message}`, "error");
    }
  });
  document.getElementById("erase").addEventListener("click", () => {
    const box = document.getElementById("erase-confirm");
    box.hidden = false;
    document.getElementById("erase-word").focus();
  });
  document.getElementById("erase-now").addEventListener("click", async () => {
    if (document.getElementById("erase-word").value.trim() !== "ERASE") {
      status("Type ERASE to confirm.", "error");
      return;
    }
    try {
      const data = await gql(ERASE);
      document.getElementById("content").hidden = true;
      status(`Your data was erased (${data.eraseMyData.rowsDeleted} rows).`, "ok");
    } catch (error) {
      status(`Not erased: ${error.message}`, "error");
    }
  });
}

async function start() {
  if (!token()) {
    status("Sign in to see your privacy settings.");
    replace("signin", signInForm(() => { replace("signin"); start(); }));
    return;
  }
  try {
    status("Loading…");
    await load();
    status("");
  } catch (error) {
    status(`Could not load your settings: ${error.message}`, "error");
  }
}

wireData();
start();

// The account page: a client of keygate's API, nothing more. The tokens live in this module's
// memory only (never localStorage, sessionStorage or a cookie), so closing or reloading the tab
// forgets them. Everything the server sends is written with textContent, never as markup.

const SCOPE = "me";
const MFA_GRANT = "urn:keygate:params:oauth:grant-type:mfa-otp";
// Refresh a little before the access token expires, so a request never goes out with a token
// about to lapse.
const REFRESH_MARGIN_MS = 30_000;
const UNREACHABLE = "keygate could not be reached. Check your connection and try again.";
const SESSION_ENDED = "Your session has ended. Please sign in again.";
const FIELD_LABELS = {
  username: "Username",
  password: "Password",
  email: "Email",
  full_name: "Full name",
  current_password: "Current password",
  new_password: "New password",
  code: "Code",
};

let tokens = null; // {access, refresh, expiresAt}
// The one refresh in flight: refresh tokens rotate, and sending a rotated one again would end
// the whole session, so concurrent requests share a single refresh.
let refreshing = null;
let mfaToken = null;
let me = null;
let totpStage = "off"; // off | enrol | codes | on

const $ = (id) => document.getElementById(id);

class ApiFailure extends Error {
  constructor(message, { status = 0, ended = false } = {}) {
    super(message);
    this.status = status;
    this.ended = ended;
  }
}

// --- talking to the API ------------------------------------------------------------------

async function send(path, { method = "GET", json, form, bearer } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  }
  if (form !== undefined) body = new URLSearchParams(form);
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  try {
    return await fetch(path, { method, headers, body, credentials: "omit", cache: "no-store" });
  } catch {
    throw new ApiFailure(UNREACHABLE);
  }
}

async function readBody(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

function sentence(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return "";
  const capital = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function waitSentence(response) {
  const seconds = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  if (!Number.isFinite(seconds) || seconds <= 0) return "Try again later.";
  return `Try again in ${seconds} second${seconds === 1 ? "" : "s"}.`;
}

function validationSentences(items) {
  return items
    .map((item) => {
      const loc = Array.isArray(item?.loc) ? item.loc : [];
      const field = FIELD_LABELS[loc[loc.length - 1]];
      const message = String(item?.msg ?? "is not valid").replace(/^Value error, /, "");
      if (!field) return sentence(message);
      // "password must be ..." about the new password reads "New password must be ...".
      const noun = field.split(" ").pop().toLowerCase();
      if (message.toLowerCase().startsWith(`${noun} `)) {
        return sentence(`${field}${message.slice(noun.length)}`);
      }
      return sentence(`${field}: ${message}`);
    })
    .join(" ");
}

// A failed response as a sentence for people: never the raw body.
function failure(response, body, messages = {}) {
  const status = response.status;
  if (status === 429) {
    return new ApiFailure(`Too many failed attempts. ${waitSentence(response)}`, { status });
  }
  if (status === 503) {
    return new ApiFailure(`keygate is temporarily unavailable. ${waitSentence(response)}`, {
      status,
    });
  }
  if (messages[status]) return new ApiFailure(messages[status], { status });
  if (typeof body?.detail === "string") return new ApiFailure(sentence(body.detail), { status });
  if (Array.isArray(body?.detail) && body.detail.length > 0) {
    return new ApiFailure(validationSentences(body.detail), { status });
  }
  return new ApiFailure(`That did not work (HTTP ${status}). Please try again.`, { status });
}

function keep(body) {
  tokens = {
    access: body.access_token,
    refresh: body.refresh_token,
    expiresAt: Date.now() + body.expires_in * 1000,
  };
}

// POST /token; returns an mfa_token when the second factor is asked for, otherwise keeps the
// tokens and returns null.
async function requestTokens(form, messages) {
  const response = await send("/token", { method: "POST", form });
  const body = await readBody(response);
  if (response.ok) {
    keep(body);
    return null;
  }
  if (response.status === 403 && body?.error === "mfa_required") return body.mfa_token;
  throw failure(response, body, messages);
}

function refreshTokens() {
  if (refreshing) return refreshing;
  const used = tokens?.refresh;
  refreshing = (async () => {
    if (!used) throw endSession();
    const form = { grant_type: "refresh_token", refresh_token: used };
    const response = await send("/token", { method: "POST", form });
    const body = await readBody(response);
    if (response.status === 400) throw endSession();
    if (!response.ok) throw failure(response, body);
    if (tokens?.refresh === used) keep(body);
  })().finally(() => {
    refreshing = null;
  });
  return refreshing;
}

// The access token, unless the user signed out while a request was on its way.
function accessToken() {
  if (!tokens) throw new ApiFailure("", { ended: true });
  return tokens.access;
}

// An authenticated call; refreshes the access token first when it is about to expire, and once
// more if the server still says it is not valid.
async function api(path, { method = "GET", json } = {}, messages = {}) {
  if (!tokens) throw endSession();
  if (Date.now() > tokens.expiresAt - REFRESH_MARGIN_MS) await refreshTokens();
  let response = await send(path, { method, json, bearer: accessToken() });
  if (response.status === 401) {
    await refreshTokens();
    response = await send(path, { method, json, bearer: accessToken() });
    if (response.status === 401) throw endSession();
  }
  if (response.status === 204) return null;
  const body = await readBody(response);
  if (!response.ok) throw failure(response, body, messages);
  return body;
}

// --- what the page shows -----------------------------------------------------------------

function setNotice(text) {
  $("notice").textContent = text;
}

function clearMessages(root) {
  for (const node of root.querySelectorAll("[data-error], [data-ok]")) node.textContent = "";
}

function forgetEverything() {
  tokens = null;
  mfaToken = null;
  me = null;
  totpStage = "off";
  for (const form of document.forms) form.reset();
  clearMessages(document);
  $("recovery-codes").replaceChildren();
  $("sessions").replaceChildren();
  $("sessions-error").textContent = "";
  $("totp-secret").textContent = "";
  $("totp-qr").removeAttribute("src");
  $("whoami-name").textContent = "";
}

function showSignIn(notice = "") {
  forgetEverything();
  $("account").hidden = true;
  $("whoami").hidden = true;
  $("sign-in").hidden = false;
  $("password-form").hidden = false;
  $("otp-form").hidden = true;
  $("forgot-form").hidden = true;
  setNotice(notice);
  $("username").focus();
}

function endSession(notice = SESSION_ENDED) {
  showSignIn(notice);
  return new ApiFailure(notice, { ended: true });
}

function renderProfile(user) {
  me = user;
  $("whoami-name").textContent = user.full_name
    ? `${user.full_name} (${user.username})`
    : user.username;
  $("profile-username").textContent = user.username;
  $("full-name").value = user.full_name ?? "";
  $("email").value = user.email ?? "";
  renderEmailState(user);
  if (totpStage !== "enrol" && totpStage !== "codes") totpStage = user.totp_enabled ? "on" : "off";
  renderTotp();
}

function renderTotp() {
  const isOn = totpStage === "on" || totpStage === "codes";
  $("totp-state").textContent = isOn
    ? "Two-step sign-in is on: signing in asks for a code from your authenticator app."
    : "Two-step sign-in is off: your password alone signs you in.";
  $("totp-off").hidden = totpStage !== "off";
  $("totp-enrol").hidden = totpStage !== "enrol";
  $("totp-recovery").hidden = totpStage !== "codes";
  $("totp-disable-form").hidden = totpStage !== "on";
}

function when(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

// A session's device, named the way people know it ("Chrome on Linux"), from its user-agent
// string. A few rules, in an order that matters: Edge, Opera and Samsung Internet also say
// "Chrome", Chrome also says "Safari", Android also says "Linux", iOS also says "Mac OS X".
// A string they do not recognise (a command-line client, a script) is shown as it was sent.
const BROWSERS = [
  ["Edge", /\bEdg(e|A|iOS)?\//],
  ["Opera", /\b(OPR|Opera)\//],
  ["Samsung Internet", /\bSamsungBrowser\//],
  ["Firefox", /\b(Firefox|FxiOS)\//],
  ["Chrome", /\b(HeadlessChrome|Chrome|CriOS|Chromium)\//],
  ["Safari", /\bVersion\/[\d.]+.*\bSafari\//],
];
const SYSTEMS = [
  ["Windows", /\bWindows\b/],
  ["Android", /\bAndroid\b/],
  ["iOS", /\b(iPhone|iPod)\b/],
  ["iPadOS", /\biPad\b/],
  ["ChromeOS", /\bCrOS\b/],
  ["macOS", /\bMac OS X\b|\bMacintosh\b/],
  ["Linux", /\bLinux\b|\bX11\b/],
];
const MAX_SHOWN_AGENT = 80;

function firstMatch(rules, text) {
  const found = rules.find(([, pattern]) => pattern.test(text));
  return found ? found[0] : null;
}

function deviceName(userAgent) {
  if (!userAgent) return "Unknown device";
  const browser = firstMatch(BROWSERS, userAgent);
  const system = firstMatch(SYSTEMS, userAgent);
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `A browser on ${system}`;
  return userAgent.length > MAX_SHOWN_AGENT
    ? `${userAgent.slice(0, MAX_SHOWN_AGENT)}…`
    : userAgent;
}

function sessionItem(session) {
  const item = element("li", undefined, session.current ? "current" : "");
  const device = deviceName(session.user_agent);
  const title = element("strong", device);
  if (session.user_agent) title.title = session.user_agent;
  item.append(title);
  if (session.current) item.append(element("span", "This session", "tag"));
  const details = element("dl");
  for (const [term, value] of [
    ["Signed in", when(session.created_at)],
    ["Last used", when(session.last_used_at)],
    ["Address", session.ip || "unknown"],
  ]) {
    details.append(element("dt", term), element("dd", value));
  }
  item.append(details);
  const end = element("button", session.current ? "End this session (sign out)" : "End session");
  end.type = "button";
  end.className = "secondary";
  end.dataset.sessionId = session.id;
  end.setAttribute("aria-label", `End the session of ${device}, signed in ${when(session.created_at)}`);
  end.addEventListener("click", () => endOneSession(session, end));
  item.append(end);
  return item;
}

async function loadSessions() {
  $("sessions-error").textContent = "";
  try {
    const sessions = await api("/users/me/sessions");
    $("sessions").replaceChildren(...sessions.map(sessionItem));
  } catch (error) {
    if (!error.ended) $("sessions-error").textContent = messageOf(error);
  }
}

async function endOneSession(session, button) {
  if (button.getAttribute("aria-busy") === "true") return;
  button.setAttribute("aria-busy", "true");
  $("sessions-error").textContent = "";
  setNotice("");
  try {
    await api(`/users/me/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" }, {
      404: "That session had already ended.",
    });
    if (session.current) {
      showSignIn("You ended this session, so you are signed out.");
      return;
    }
    setNotice("The session has ended.");
  } catch (error) {
    if (error.ended) return;
    $("sessions-error").textContent = messageOf(error);
  } finally {
    button.removeAttribute("aria-busy");
  }
  await loadSessions();
  $("sessions-reload").focus();
}

async function showAccount() {
  setNotice("");
  renderProfile(await api("/users/me"));
  $("sign-in").hidden = true;
  $("account").hidden = false;
  $("whoami").hidden = false;
  $("account-title").focus();
  await loadSessions();
}

function messageOf(error) {
  if (error instanceof ApiFailure) return error.message;
  console.error(error);
  return "Something went wrong on this page. Please reload it and try again.";
}

// Each form: submitted by the script only (the page's CSP forbids a native submission), one
// request at a time, its error or success written as a sentence into the form.
function onSubmit(id, handler) {
  const form = $(id);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (form.getAttribute("aria-busy") === "true") return;
    form.setAttribute("aria-busy", "true");
    clearMessages(form);
    setNotice(""); // a notice answers what was done before; a new step makes it stale
    try {
      const done = await handler(form);
      const ok = form.querySelector("[data-ok]");
      if (ok && done) ok.textContent = done;
    } catch (error) {
      if (!error.ended) form.querySelector("[data-error]").textContent = messageOf(error);
    } finally {
      form.removeAttribute("aria-busy");
    }
  });
}

function value(form, name) {
  return form.elements[name].value;
}

function required(form, ...names) {
  const missing = names.filter((name) => !value(form, name).trim());
  if (missing.length > 0) {
    form.elements[missing[0]].focus();
    const labels = missing.map((name) => FIELD_LABELS[name].toLowerCase());
    throw new ApiFailure(sentence(`Enter your ${labels.join(" and ")}`));
  }
}

// --- signing in and out ------------------------------------------------------------------

onSubmit("password-form", async (form) => {
  required(form, "username", "password");
  const issued = await requestTokens(
    {
      grant_type: "password",
      username: value(form, "username"),
      password: value(form, "password"),
      scope: SCOPE,
    },
    { 400: "The username or password is wrong." },
  );
  form.elements.password.value = "";
  if (issued) {
    mfaToken = issued;
    form.hidden = true;
    $("otp-form").hidden = false;
    $("otp").focus();
    return null;
  }
  await showAccount();
  return null;
});

onSubmit("otp-form", async (form) => {
  if (!value(form, "otp").trim()) throw new ApiFailure("Enter the code.");
  await requestTokens(
    { grant_type: MFA_GRANT, mfa_token: mfaToken, otp: value(form, "otp").trim() },
    {
      400: "That code is wrong or was already used. If this keeps happening, start over.",
    },
  );
  mfaToken = null;
  form.reset();
  await showAccount();
  return null;
});

$("otp-cancel").addEventListener("click", () => showSignIn());

$("sign-out").addEventListener("click", async () => {
  let notice = "You are signed out.";
  try {
    await api("/logout", { method: "POST" });
  } catch (error) {
    if (error.ended) return;
    notice = `You are signed out of this page, but keygate could not be told: ${messageOf(error)}`;
  }
  showSignIn(notice);
});

// --- forgotten passwords and verified addresses (docs/contract.md, Account recovery) -------

function showForgotForm(shown) {
  $("password-form").hidden = shown;
  $("forgot-form").hidden = !shown;
  clearMessages($("forgot-form"));
  setNotice("");
  if (shown) {
    $("forgot-name").value = $("username").value;
    $("forgot-name").focus();
  } else {
    $("username").focus();
  }
}

$("forgot-open").addEventListener("click", () => showForgotForm(true));
$("forgot-cancel").addEventListener("click", () => showForgotForm(false));

onSubmit("forgot-form", async (form) => {
  const name = value(form, "name").trim();
  if (!name) throw new ApiFailure("Enter your username or address.");
  const lookup = name.includes("@") ? { email: name } : { username: name };
  const response = await send("/users/password-reset", { method: "POST", json: lookup });
  if (response.status === 429) {
    throw new ApiFailure(`Too many requests from here. ${waitSentence(response)}`);
  }
  if (!response.ok) throw failure(response, await readBody(response));
  return (
    "If an account matches, a message with a link is on its way to its address. " +
    "The link works once, for a limited time."
  );
});

function renderEmailState(user) {
  const state = $("email-state");
  const unverified = Boolean(user.email) && !user.email_verified;
  state.textContent = !user.email ? "" : user.email_verified ? "Verified." : "Not verified yet.";
  $("email-verification").hidden = !unverified;
}

$("email-verify").addEventListener("click", async () => {
  const box = $("email-verification");
  clearMessages(box);
  const button = $("email-verify");
  if (button.getAttribute("aria-busy") === "true") return;
  button.setAttribute("aria-busy", "true");
  try {
    await api("/users/me/email-verification", { method: "POST" }, {
      409: "There is no unverified address to verify. Reload the page.",
    });
    box.querySelector("[data-ok]").textContent =
      "A message with a link is on its way to your address. Open the link to verify it.";
  } catch (error) {
    if (!error.ended) box.querySelector("[data-error]").textContent = messageOf(error);
  } finally {
    button.removeAttribute("aria-busy");
  }
});

// --- the account -------------------------------------------------------------------------

onSubmit("profile-form", async (form) => {
  const email = value(form, "email").trim() || null;
  const fullName = value(form, "full_name").trim();
  const json = { email, full_name: fullName || null };
  // A new address needs the password, so a stolen session cannot redirect password resets.
  const password = value(form, "current_password");
  if (email !== (me?.email ?? null) && password) json.current_password = password;
  const user = await api("/users/me", { method: "PATCH", json }, {
    400: password
      ? "The password is wrong, so the email address was not changed."
      : "Enter your password to change the email address.",
  });
  form.elements.current_password.value = "";
  renderProfile(user);
  return "Your profile is saved.";
});

onSubmit("change-password-form", async (form) => {
  required(form, "current_password", "new_password");
  await api("/users/me/password", {
    method: "POST",
    json: {
      current_password: value(form, "current_password"),
      new_password: value(form, "new_password"),
    },
  });
  form.reset();
  await loadSessions();
  return "Your password is changed. Your other sessions have ended.";
});

// Turning a second factor on needs the current password: a stolen access token alone must not
// lock the owner out (docs/contract.md, Hardening).
$("totp-off").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = $("totp-off");
  const error = form.querySelector("[data-error]");
  error.textContent = "";
  try {
    required(form, "password");
    const enrolment = await api(
      "/users/me/totp",
      { method: "POST", json: { password: value(form, "password") } },
      { 400: "The password is wrong." },
    );
    form.reset();
    // An <img> from a data: URL shows the SVG without ever parsing it into this document.
    $("totp-qr").src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(enrolment.qr_svg)}`;
    $("totp-secret").textContent = enrolment.secret;
    totpStage = "enrol";
    renderTotp();
    $("totp-confirm-code").focus();
  } catch (failed) {
    if (failed.ended) return;
    if (failed.status === 409) {
      form.reset();
      // Turned on meanwhile (in another tab, say): show it as it is.
      await api("/users/me").then(renderProfile, () => {});
      return;
    }
    error.textContent = messageOf(failed);
  }
});

onSubmit("totp-confirm-form", async (form) => {
  if (!value(form, "code").trim()) throw new ApiFailure("Enter the code shown by the app.");
  const confirmed = await api(
    "/users/me/totp/confirm",
    { method: "POST", json: { code: value(form, "code").trim() } },
    {
      400: "That code is wrong. Check the app and enter the code it shows now.",
      409: "This set-up is no longer in progress. Reload the page and start again.",
    },
  );
  form.reset();
  $("totp-qr").removeAttribute("src");
  $("totp-secret").textContent = "";
  $("recovery-codes").replaceChildren(
    ...confirmed.recovery_codes.map((code) => element("li", code)),
  );
  totpStage = "codes";
  renderTotp();
  $("recovery-download").focus();
  return null;
});

$("recovery-download").addEventListener("click", () => {
  const codes = [...$("recovery-codes").children].map((item) => item.textContent);
  const text = [
    `keygate recovery codes for ${me?.username ?? "your account"}`,
    "Each code signs you in once.",
    "",
    ...codes,
    "",
  ].join("\n");
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/plain;charset=utf-8" }));
  link.download = "keygate-recovery-codes.txt";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
});

$("recovery-done").addEventListener("click", () => {
  $("recovery-codes").replaceChildren();
  totpStage = "on";
  renderTotp();
  $("totp-title").setAttribute("tabindex", "-1");
  $("totp-title").focus();
});

onSubmit("totp-disable-form", async (form) => {
  required(form, "password", "code");
  await api(
    "/users/me/totp/disable",
    { method: "POST", json: { password: value(form, "password"), code: value(form, "code").trim() } },
    { 400: "The password or the code is wrong.", 409: "Two-step sign-in is already off." },
  );
  form.reset();
  totpStage = "off";
  renderTotp();
  setNotice("Two-step sign-in is off. Your other sessions have ended.");
  $("totp-begin").focus();
  await loadSessions();
  return null;
});

$("sessions-reload").addEventListener("click", loadSessions);

showSignIn();

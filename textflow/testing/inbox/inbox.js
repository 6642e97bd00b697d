// The sandbox inbox. Every text from a message is set with textContent (never as HTML):
// message texts are whatever an app sent, and in a test that may well be hostile.
"use strict";

const MAX_SHOWN = 200; // conversations drawn at once; the search box narrows the rest
const state = { listing: null, raw: "", loading: false, again: false, drafts: new Map(), notes: new Map() };
const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function time(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

// Encoding, segments, characters and, for a message sent, the price charged.
function lengthLabel(entry) {
  const parts = [];
  if (entry.encoding !== undefined) parts.push(entry.encoding);
  if (entry.segments !== undefined) parts.push(entry.segments + (entry.segments === 1 ? " segment" : " segments"));
  parts.push(entry.characters + (entry.characters === 1 ? " character" : " characters"));
  return parts.join(" · ");
}

function priceLabel(entry) {
  return entry.price === undefined || entry.price === null ? null : "charged " + entry.price + " credits";
}

const KINDS = { sms: "SMS", code: "Verification code", bulk: "Bulk SMS", reply: "Reply" };
const STATES = { live: "not used yet", used: "used", expired: "expired", replaced: "replaced by a newer code" };

async function copy(code, button) {
  try {
    await navigator.clipboard.writeText(code);
  } catch (error) {
    const area = el("textarea"); // clipboard API refused (no permission): the old way
    area.value = code;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

function drawEntry(entry) {
  const item = el("li", "entry kind-" + entry.kind);
  item.dataset.id = entry.id;
  const meta = el("div", "meta");
  meta.append(el("span", "kind", KINDS[entry.kind] || entry.kind), el("time", "", time(entry.timestamp)),
    el("span", "length", lengthLabel(entry)));
  const price = priceLabel(entry);
  if (price) meta.append(el("span", "price", price));
  if (entry.kind === "reply") {
    const ok = entry.status !== null && entry.status >= 200 && entry.status < 300;
    const said = entry.status !== null ? "app answered HTTP " + entry.status : "no answer: " + entry.error;
    meta.append(el("span", "answer" + (ok ? "" : " bad"), said));
  }
  item.append(meta, el("p", "text", entry.text));
  if (entry.kind === "code" && entry.code) {
    const box = el("div", "code-box");
    const code = el("span", "code-value", entry.code);
    const button = el("button", "copy", "Copy");
    button.type = "button";
    button.setAttribute("aria-label", "Copy code");
    button.addEventListener("click", () => copy(entry.code, button));
    box.append(code, button, el("span", "state " + entry.code_state, STATES[entry.code_state] || entry.code_state));
    if (entry.expires) box.append(el("span", "expires meta", "expires " + time(entry.expires)));
    item.append(box);
  }
  return item;
}

function matches(conversation, query) {
  if (!query) return conversation.entries;
  if (conversation.phone_number.toLowerCase().includes(query)) return conversation.entries;
  return conversation.entries.filter((entry) => entry.text.toLowerCase().includes(query));
}

function drawConversation(conversation, entries, webhook) {
  const node = $("conversation-template").content.firstElementChild.cloneNode(true);
  const phone = conversation.phone_number;
  node.dataset.phone = phone;
  node.querySelector(".phone").textContent = phone;
  const list = node.querySelector(".entries");
  for (const entry of entries) list.append(drawEntry(entry));
  const form = node.querySelector(".reply-form");
  if (webhook) {
    form.hidden = false;
    const input = form.querySelector(".reply-text");
    input.value = state.drafts.get(phone) || "";
    input.addEventListener("input", () => state.drafts.set(phone, input.value));
    const note = state.notes.get(phone);
    if (note) {
      const output = form.querySelector(".reply-status");
      output.textContent = note.text;
      output.classList.toggle("bad", note.bad);
    }
    form.addEventListener("submit", (event) => { event.preventDefault(); sendReply(phone, input); });
  }
  return node;
}

function render() {
  const listing = state.listing;
  if (!listing) return;
  $("credits").textContent = listing.credits;
  $("failures").textContent = listing.fail_rate
    ? (listing.fail_rate * 100).toFixed(1) + "% of sends (seed " + listing.seed + ")" : "none";
  $("latency").textContent = listing.latency ? Math.round(listing.latency * 1000) + " ms" : "none";
  $("webhook").textContent = listing.webhook || "not set (no replies)";
  const focused = document.activeElement && document.activeElement.closest("[data-phone]");
  const focusPhone = focused && document.activeElement.classList.contains("reply-text") ? focused.dataset.phone : null;
  const query = $("search").value.trim().toLowerCase();
  const main = $("conversations");
  const nodes = [];
  let hidden = 0;
  for (const conversation of listing.conversations) {
    const entries = matches(conversation, query);
    if (!entries.length) continue;
    if (nodes.length >= MAX_SHOWN) { hidden += 1; continue; }
    nodes.push(drawConversation(conversation, entries, listing.webhook));
  }
  if (!nodes.length) {
    nodes.push(el("p", "empty", listing.conversations.length
      ? "No message matches the search." : "No messages yet. Send an SMS to this sandbox and it shows here at once."));
  }
  if (hidden) nodes.push(el("p", "more", hidden + " more conversations: search to find them."));
  main.replaceChildren(...nodes);
  if (focusPhone) {
    const input = main.querySelector('[data-phone="' + CSS.escape(focusPhone) + '"] .reply-text');
    if (input) input.focus();
  }
}

async function refresh() {
  if (state.loading) { state.again = true; return; }
  state.loading = true;
  try {
    do {
      state.again = false;
      const response = await fetch("/_inbox/messages", { cache: "no-store" });
      const raw = response.ok ? await response.text() : state.raw;
      if (raw !== state.raw || state.dirty) { // redraw only what changed: typing is not disturbed
        state.raw = raw;
        state.dirty = false;
        state.listing = JSON.parse(raw);
        render();
      }
    } while (state.again);
  } finally {
    state.loading = false;
  }
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  return response.json();
}

async function sendReply(phone, input) {
  const text = input.value;
  if (!text.trim()) return;
  state.notes.set(phone, { text: "Sending…", bad: false });
  render();
  let note;
  try {
    const answer = await post("/_inbox/reply", { phone_number: phone, text: text });
    if (answer.status !== null && answer.status !== undefined) {
      note = { text: "Delivered: the app answered HTTP " + answer.status, bad: answer.status >= 300 };
    } else {
      note = { text: "Not delivered: " + answer.error, bad: true };
    }
    if (answer.ok) state.drafts.delete(phone);
  } catch (error) {
    note = { text: "The sandbox did not answer: " + error, bad: true };
  }
  state.notes.set(phone, note);
  // Redraw even if the listing is unchanged: the "change" event of the reply may already
  // have been fetched (and drawn with "Sending…") while the POST was in flight.
  state.dirty = true;
  await refresh();
}

function listen() {
  const live = $("live");
  const events = new EventSource("/_inbox/events");
  events.addEventListener("open", () => { live.textContent = "live"; live.classList.add("on"); refresh(); });
  events.addEventListener("change", () => refresh());
  events.addEventListener("error", () => { live.textContent = "reconnecting…"; live.classList.remove("on"); });
}

document.addEventListener("DOMContentLoaded", () => {
  $("search").addEventListener("input", render);
  $("clear").addEventListener("click", async () => {
    await post("/_inbox/clear", {});
    state.notes.clear();
    state.dirty = true;
    await refresh();
  });
  refresh();
  listen();
});

// Brevdue desktop: plain TypeScript over Tauri commands; the engine does the work.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
// The engine's advice in English and Bokmål, written from the core (core/src/advice.rs).
import ADVICE from "./advice.json";
// The window's own words in English and Bokmål.
import STRINGS from "./strings.json";

// ---------- types ----------
// The engine's records, generated from the core (`desktop/src/bindings/`, ts-rs; `test.sh`
// fails when they drift); the shell adds only what is below.
import type { Account } from "./bindings/Account";
import type { Address } from "./bindings/Address";
import type { Advice } from "./bindings/Advice";
import type { AccountSyncNow } from "./bindings/AccountSyncNow";
import type { ComposePreview } from "./bindings/ComposePreview";
import type { Event as EngineEvent } from "./bindings/Event";
import type { Folder } from "./bindings/Folder";
import type { MessageSummary } from "./bindings/MessageSummary";
import type { OAuthProvider } from "./bindings/OAuthProvider";
import type { OAuthStart } from "./bindings/OAuthStart";
import type { OutboxMessage } from "./bindings/OutboxMessage";
import type { PendingChange } from "./bindings/PendingChange";
import type { Pop3DeletePolicy } from "./bindings/Pop3DeletePolicy";
import type { Reading } from "./bindings/Reading";
import type { SwitchReport } from "./bindings/SwitchReport";
import type { SyncNowReport } from "./bindings/SyncNowReport";
import type { SyncStatus } from "./bindings/SyncStatus";
import type { ThreadSummary } from "./bindings/ThreadSummary";

/** A list row: a message, or a conversation by its newest message. */
type Row = MessageSummary & { threadCount?: number; threadUnread?: number };
/** `open_message`: the reading with the conversation it belongs to. */
type Opened = Reading & { thread: MessageSummary[] };
/** A command's error: `message` is English for logs; people read `advice` (and `problems`,
 * one per address that is not one). */
interface CmdError { kind: string; message: string; advice?: Advice; problems?: Advice[] }
/** `begin_sign_in`: the start, with why no browser opened (the page is then shown). */
type SignInStart = OAuthStart & { browserError?: CmdError };
/** `compose_preview`: with the recipients as the text the fields start with. */
type Preview = ComposePreview & { toText: string; ccText: string };
/** One change to a live list (the engine's `Diff`): apply them in order. */
type Diff<T> =
  | { op: "reset"; rows: T[] }
  | { op: "insert"; index: number; row: T }
  | { op: "set"; index: number; row: T }
  | { op: "remove"; index: number };
/** A live list's event: diffs, or why it cannot be read now. */
interface ListEvent<T> { list: number; diffs?: Diff<T>[]; error?: CmdError }
/** An address as people read it (the engine's `Display` of `Address`). */
function addrText(a: Address): string {
  return a.name ? `${a.name} <${a.address}>` : a.address;
}
type Source =
  | { kind: "folder"; account: string | null; folder: string }
  | { kind: "threads"; account: string; folder: string }
  | { kind: "search"; query: string };

// ---------- tiny DOM helpers ----------
const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
function h(tag: string, attrs: Record<string, unknown> = {}, ...children: (Node | string | null | undefined | false)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v as EventListener);
    else if (k === "class") el.className = String(v);
    else if (k === "value") (el as HTMLInputElement).value = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}
function fill(el: HTMLElement, ...children: (Node | string | null | undefined | false)[]) {
  el.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
}
// ---------- advice in the user's language ----------
type Lang = "en" | "nb";
/** Bokmål for Norwegian ("nb", "no", "nn"), English otherwise. */
function langOf(tag: string): Lang {
  const primary = tag.split(/[-_.]/)[0].toLowerCase();
  return primary === "nb" || primary === "no" || primary === "nn" ? "nb" : "en";
}
const LANG: Lang = langOf(navigator.language || "en");
const WORDS = ADVICE as unknown as Record<Lang, Record<string, string>>;
/** The words for `a`; an id this table lacks (from a newer engine) shows its detail. */
function adviceText(a: Advice): string {
  const words = WORDS[LANG][a.id] ?? WORDS.en[a.id];
  return words === undefined ? a.detail : words.split("{detail}").join(a.detail);
}
const words = (id: string, detail = "") => adviceText({ id, detail });
const UI = STRINGS as Record<Lang, Record<string, string>>;
/** The window's own words for `id`, with `{name}` placeholders filled in. */
function t(id: string, vars: Record<string, string> = {}): string {
  let text = UI[LANG][id] ?? UI.en[id] ?? id;
  for (const [k, v] of Object.entries(vars)) text = text.split(`{${k}}`).join(v);
  return text;
}
function errText(e: unknown): string {
  if (!e || typeof e !== "object") return String(e);
  const err = e as CmdError;
  if (err.problems?.length) return err.problems.map(adviceText).join(" ");
  if (err.advice) return adviceText(err.advice);
  return "message" in err ? err.message : String(e);
}
async function call<T>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
  return invoke<T>(cmd, args);
}
function applyDiffs<T>(rows: T[], diffs: Diff<T>[]): T[] {
  for (const d of diffs) {
    if (d.op === "reset") rows = d.rows;
    else if (d.op === "insert") rows.splice(d.index, 0, d.row);
    else if (d.op === "set") rows[d.index] = d.row;
    else rows.splice(d.index, 1);
  }
  return rows;
}
function fmtDate(secs: number): string {
  const d = new Date(secs * 1000);
  const now = new Date();
  return d.toDateString() === now.toDateString()
    ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
}

// ---------- state ----------
const ROW_H = 56;
const PAGE = 100;
const S = {
  info: { testPasswords: false, keychainOk: true, keychainMessage: null as string | null },
  accounts: [] as Account[],
  folders: [] as Folder[],
  source: { kind: "folder", account: null, folder: "INBOX" } as Source,
  threadsMode: false,
  /** The list shown, kept from the live list's diffs (or a search's or threads' answer). */
  rows: [] as Row[],
  loaded: false,
  /** The live list the diffs must belong to, and how many rows it holds. */
  listId: 0,
  limit: PAGE,
  foldersId: 0,
  status: { accounts: [] } as SyncStatus,
  selected: null as Row | null,
  selectedIndex: -1,
  opened: null as Opened | null,
  notifications: [] as { title: string; body: string }[],
  lastSync: null as { accounts: AccountSyncNow[] } | null,
};
(window as unknown as { __brevdue: typeof S }).__brevdue = S;

// ---------- layout ----------
function layout() {
  $("#app").replaceChildren(
    h("div", { id: "topbar" },
      h("span", { class: "brand" }, "Brevdue"),
      h("input", { id: "search", type: "search", placeholder: "Search all mail  ( / )" }),
      h("button", { id: "compose-btn", class: "primary", title: "New message (c)", onclick: () => openComposer("new") }, "New message"),
      h("button", { id: "sync-btn", title: "Sync now", onclick: syncNow }, "Sync"),
      h("button", { id: "add-account-btn", onclick: () => showSetup(false) }, "Add account"),
      h("button", { id: "changes-btn", onclick: toggleChanges }, "Changes", h("span", { id: "changes-badge", class: "badge hidden" })),
    ),
    h("div", { id: "main" },
      h("nav", { id: "sidebar" }),
      h("section", { id: "listpane" },
        h("div", { id: "listhead" }),
        h("div", { id: "list", tabindex: "0" }, h("div", { class: "spacer" })),
      ),
      h("article", { id: "reader" }, h("div", { class: "placeholder" }, "Select a message")),
    ),
    h("footer", { id: "statusbar" },
      h("span", { id: "status-text" }, "Ready"),
      h("progress", { id: "sync-progress", class: "hidden", max: "1", value: "0" }),
      h("span", { id: "push-state" }),
    ),
    h("div", { id: "toasts" }),
  );
  const search = $<HTMLInputElement>("#search");
  let timer = 0;
  search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = window.setTimeout(() => runSearch(search.value), 250);
  });
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { clearTimeout(timer); runSearch(search.value); }
    if (e.key === "Escape") { search.value = ""; runSearch(""); $("#list").focus(); }
  });
  $("#list").addEventListener("scroll", () => renderRows());
  window.addEventListener("resize", () => renderRows());
}

function status(text: string, kind: "info" | "error" = "info") {
  const el = $("#status-text");
  el.textContent = text;
  el.style.color = kind === "error" ? "#b91c1c" : "";
}

/** Accounts' sync problems in the status bar; a refused or revoked sign-in with the way
 * out ("Sign in again") where it is said. */
function showProblems(problems: { account: string; problem: { advice: Advice } }[]) {
  status(problems.map((a) => `${a.account}: ${adviceText(a.problem.advice)}`).join(" · "), "error");
  for (const a of problems) {
    if (a.problem.advice.id === "oauth_sign_in_again" && S.accounts.some((x) => x.name === a.account && x.oauth)) {
      $("#status-text").append(" ", signInAgainButton(a.account));
    }
  }
}

function toast(title: string, body = "", ms = 6000) {
  const el = h("div", { class: "toast" }, h("b", {}, title), body);
  $("#toasts").append(el);
  setTimeout(() => el.remove(), ms);
  return el;
}

// ---------- sidebar ----------
// The folders (with counts) come from the engine's live folder list; accounts are read
// when they come or go.
async function loadAccounts() {
  S.accounts = await call<Account[]>("accounts");
  renderSidebar();
}

let listCounter = 0;
function watchFolders() {
  S.foldersId = ++listCounter;
  return call("watch_folders", { list: S.foldersId });
}

const roleOrder = ["inbox", "drafts", "sent", "archive", "junk", "trash"];
function folderLabel(f: Folder) {
  return f.role === "inbox" ? "Inbox" : f.name;
}

function renderSidebar() {
  const side = $("#sidebar");
  const src = S.source;
  const sel = (acc: string | null, name: string) =>
    src.kind !== "search" && src.folder === name && (src.kind === "folder" ? src.account === acc : src.account === acc);
  const unifiedUnread = S.folders.filter((f) => f.role === "inbox").reduce((n, f) => n + f.unread, 0);
  const items: HTMLElement[] = [
    h("div", { class: "folder" + (sel(null, "INBOX") ? " selected" : ""), id: "unified-inbox", "data-folder": "INBOX",
      onclick: () => selectSource({ kind: "folder", account: null, folder: "INBOX" }) },
      h("span", {}, "All inboxes"), unifiedUnread ? h("span", { class: "count" }, String(unifiedUnread)) : null),
  ];
  for (const acc of S.accounts) {
    items.push(h("div", { class: "account-head", "data-account": acc.name },
      h("span", {}, acc.name),
      h("span", { class: "proto " + acc.protocol }, acc.protocol.toUpperCase()),
      acc.protocol === "imap"
        ? h("button", { id: `new-folder-${acc.name}`, class: "new-folder", title: t("new_folder", { name: acc.name }),
          "aria-label": t("new_folder", { name: acc.name }), onclick: () => newFolder(acc.name) }, "+")
        : null,
      h("button", { class: "account-settings", "data-account": acc.name, title: t("settings_button", { name: acc.name }),
        "aria-label": t("settings_button", { name: acc.name }), onclick: () => showSettings(acc.name) }, "⚙")));
    if (acc.protocol === "pop3") {
      items.push(h("div", { class: "pop3-notice", id: `pop3-notice-${acc.name}` },
        words("pop3_explained"),
        h("br"),
        h("button", { class: "switch-imap", onclick: () => switchToImap(acc.name) }, "Switch to IMAP"), " ",
        h("button", { onclick: () => call("read_on_another_device", { account: acc.name }) }, "I read it on another device too")));
    }
    const mine = S.folders.filter((f) => f.account === acc.name);
    mine.sort((a, b) => {
      const ra = a.role ? roleOrder.indexOf(a.role) : 99, rb = b.role ? roleOrder.indexOf(b.role) : 99;
      return ra - rb || a.name.localeCompare(b.name);
    });
    for (const f of mine) {
      items.push(h("div", {
        class: "folder" + (sel(acc.name, f.name) ? " selected" : ""), "data-account": acc.name, "data-folder": f.name,
        "data-role": f.role ?? "", title: `${f.total} messages`,
        onclick: () => selectSource({ kind: S.threadsMode ? "threads" : "folder", account: acc.name, folder: f.name }),
      }, h("span", {}, "\u00a0\u00a0" + folderLabel(f)), f.unread ? h("span", { class: "count" }, String(f.unread)) : null));
    }
  }
  side.replaceChildren(...items);
  renderListHead();
}

// ---------- the message list (virtual: only visible rows exist; pages come from the local store) ----------
function selectSource(src: Source) {
  S.source = src;
  if (src.kind !== "search") $<HTMLInputElement>("#search").value = "";
  $("#list").scrollTop = 0;
  S.selectedIndex = -1;
  S.rows = [];
  S.loaded = false;
  S.listId = ++listCounter;
  S.limit = PAGE;
  if (src.kind === "folder") {
    call("watch_messages", { list: S.listId, account: src.account, folder: src.folder, limit: S.limit })
      .catch((e) => status(errText(e), "error"));
  } else {
    call("stop_messages").then(() => loadOnce(src));
  }
  renderRows();
  renderSidebar();
}

/** A live list's diffs (or error) for the shown list. */
function onMessages(e: ListEvent<Row>) {
  if (e.list !== S.listId) return; // a list already replaced
  if (e.error) {
    // A folder that does not exist (yet): nothing to show.
    if (e.error.kind !== "not_found") status(errText(e.error), "error");
    S.rows = [];
  } else {
    S.rows = applyDiffs(S.rows, e.diffs ?? []);
  }
  S.loaded = true;
  followSelection();
  renderRows();
  renderListHead();
}

/** Keeps the selection on the same message as rows come and go, and its marks current. */
function followSelection() {
  const sel = S.selected;
  if (!sel) return;
  const i = S.rows.findIndex((r) => r.id === sel.id);
  S.selectedIndex = i;
  if (i < 0) return;
  S.selected = S.rows[i];
  const opened = S.opened?.message.summary;
  if (opened && opened.id === sel.id && opened.flags.flagged !== S.selected.flags.flagged) {
    opened.flags.flagged = S.selected.flags.flagged;
    const btn = document.querySelector("#flag-btn");
    if (btn) btn.textContent = opened.flags.flagged ? "Unflag" : "Flag";
  }
}

/** Conversations and search results are read once (the engine has no live form of them). */
async function loadOnce(src: Source) {
  try {
    const rows = src.kind === "threads"
      ? (await call<ThreadSummary[]>("threads", { account: src.account, folder: src.folder, limit: S.limit }))
        .map((t): Row => ({ ...t.newest, threadCount: t.count, threadUnread: t.unread }))
      : src.kind === "search" ? await call<Row[]>("search", { query: src.query, account: null }) : [];
    if (S.source !== src) return; // the user went elsewhere meanwhile
    S.rows = rows;
    S.loaded = true;
    followSelection();
    renderRows();
    renderListHead();
  } catch (e) {
    status(errText(e), "error");
  }
}

function rowAt(i: number): Row | undefined {
  return S.rows[i];
}

function renderRows() {
  const list = $("#list");
  const spacer = list.querySelector(".spacer") as HTMLElement;
  const n = S.rows.length;
  spacer.style.height = `${n * ROW_H}px`;
  const first = Math.max(0, Math.floor(list.scrollTop / ROW_H) - 5);
  const last = Math.min(n, Math.ceil((list.scrollTop + list.clientHeight) / ROW_H) + 5);
  // Near the end of a full list: the live list shows the next page.
  if (S.source.kind === "folder" && n >= S.limit && last >= n - 5) {
    S.limit += PAGE;
    call("set_list_limit", { limit: S.limit }).catch((e) => status(errText(e), "error"));
  }
  const els: HTMLElement[] = [];
  for (let i = first; i < last; i++) {
    const r = S.rows[i];
    const selected = S.selected?.id === r.id;
    els.push(h("div", {
      class: "row" + (r.flags.seen ? "" : " unread") + (selected ? " selected" : ""),
      style: `top:${i * ROW_H}px`, "data-id": r.id, "data-index": i, "data-subject": r.subject, "data-account": r.account,
    },
      r.flags.seen ? null : h("span", { class: "mark-unread", title: "Unread" }, "●"),
      h("div", { class: "line" },
        h("span", { class: "from" }, r.from.name || r.from.address),
        h("span", { class: "marks" },
          r.threadCount && r.threadCount > 1 ? h("span", { class: "count", title: "Messages in this conversation" }, `(${r.threadCount})`) : null,
          r.hasAttachments ? h("span", { class: "mark-attach", title: "Attachment" }, "📎") : null,
          r.flags.answered ? h("span", { class: "mark-answered", title: "Answered" }, "↩") : null,
          r.flags.forwarded ? h("span", { class: "mark-forwarded", title: "Forwarded" }, "→") : null,
          r.flags.flagged ? h("span", { class: "mark-flagged", title: "Flagged" }, "★") : null),
        h("span", { class: "date" }, fmtDate(r.date))),
      h("div", { class: "subject" }, r.subject || "(no subject)")));
  }
  spacer.replaceChildren(...els);
  const empty = n === 0 && S.loaded;
  list.querySelector("#empty")?.remove();
  if (empty) list.append(h("div", { id: "empty" }, S.source.kind === "search" ? "No messages match." : "No messages here."));
  renderListHead();
}

/** How many messages the shown folder holds (from the live folder counts). */
function listCount(): number {
  const src = S.source;
  if (src.kind !== "folder") return S.rows.length;
  const inFolder = S.folders.filter((f) => src.account === null
    ? (src.folder === "INBOX" ? f.role === "inbox" || f.name.toUpperCase() === "INBOX" : f.name === src.folder)
    : f.account === src.account && f.name === src.folder);
  return Math.max(S.rows.length, inFolder.reduce((n, f) => n + f.total, 0));
}

function renderListHead() {
  const src = S.source;
  const head = $("#listhead");
  const title = src.kind === "search" ? `Search: “${src.query}”` : src.account === null ? "All inboxes" : `${src.account} · ${src.folder}`;
  const folder = src.kind !== "search" && src.account !== null ? S.folders.find((f) => f.account === src.account && f.name === src.folder) : undefined;
  fill(head,
    h("span", { class: "title", id: "list-title" }, title),
    h("span", { class: "date", id: "list-count" }, `${listCount()}${src.kind === "threads" && S.rows.length > 0 ? " conversations" : ""}`),
    src.kind !== "search" && src.account !== null
      ? h("label", { title: "Group by conversation" }, h("input", {
          id: "threads-toggle", type: "checkbox", checked: src.kind === "threads",
          onchange: (e: Event) => {
            S.threadsMode = (e.target as HTMLInputElement).checked;
            selectSource({ kind: S.threadsMode ? "threads" : "folder", account: src.account as string, folder: src.folder });
          },
        }), " Threads")
      : null,
    folder && !folder.role && folder.name.toUpperCase() !== "INBOX"
      ? h("span", {},
          h("button", { id: "rename-folder", onclick: () => renameFolder(folder) }, "Rename"), " ",
          h("button", { id: "delete-folder", onclick: () => deleteFolder(folder) }, "Delete"))
      : null,
  );
}

function runSearch(q: string) {
  if (q.trim() === "") {
    if (S.source.kind === "search") selectSource({ kind: "folder", account: null, folder: "INBOX" });
    return;
  }
  selectSource({ kind: "search", query: q.trim() });
}

// ---------- selecting, opening, the reader ----------
function selectIndex(i: number) {
  if (i < 0 || i >= S.rows.length) return;
  const r = rowAt(i);
  if (!r) return;
  S.selectedIndex = i;
  const list = $("#list");
  if (i * ROW_H < list.scrollTop) list.scrollTop = i * ROW_H;
  if ((i + 1) * ROW_H > list.scrollTop + list.clientHeight) list.scrollTop = (i + 1) * ROW_H - list.clientHeight;
  openMessage(r);
}

async function openMessage(r: Row, allowRemote = false) {
  S.selected = r;
  renderRows();
  const reader = $("#reader");
  try {
    const m = await call<Opened>("open_message", { id: r.id, allowRemote });
    if (S.selected?.id !== r.id) return;
    S.opened = m;
    renderReader(m);
  } catch (e) {
    reader.replaceChildren(h("div", { class: "banner error", id: "reader-error" }, errText(e)));
  }
}

function srcdoc(html: string, remote: boolean): string {
  // A second wall behind ammonia: the frame may load nothing but inline images (and
  // remote ones only once allowed), and with no allow-scripts in its sandbox nothing runs.
  const csp = `default-src 'none'; img-src data: cid:${remote ? " http: https:" : ""}; style-src 'unsafe-inline'; form-action 'none'`;
  return `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}"><style>body{font:14px/1.5 system-ui,sans-serif;margin:0;color:#111827;overflow-wrap:anywhere}img{max-width:100%}</style></head><body>${html}</body></html>`;
}

function renderReader(m: Opened) {
  const s = m.message.summary;
  const account = S.accounts.find((a) => a.name === s.account);
  const reader = $("#reader");
  const parts: (HTMLElement | null)[] = [
    h("div", { id: "reader-actions" },
      h("button", { id: "reply-btn", title: "Reply (r)", onclick: () => openComposer("reply") }, "Reply"),
      h("button", { id: "reply-all-btn", title: "Reply all (a)", onclick: () => openComposer("replyAll") }, "Reply all"),
      h("button", { id: "forward-btn", title: "Forward (f)", onclick: () => openComposer("forward") }, "Forward"),
      h("button", { id: "archive-btn", title: "Archive (e)", onclick: () => act("archive") }, "Archive"),
      h("button", { id: "delete-btn", title: "Delete (#)", onclick: () => act("delete") }, "Delete"),
      h("button", { id: "flag-btn", title: "Flag (s)", onclick: () => toggleFlag() }, s.flags.flagged ? "Unflag" : "Flag"),
      h("button", { id: "unread-btn", title: "Mark unread (u)", onclick: () => markUnread() }, "Mark unread")),
    h("h1", { id: "reader-subject" }, s.subject || "(no subject)"),
    h("div", { class: "meta" }, h("b", {}, "From: "), addrText(s.from)),
    m.message.to.length ? h("div", { class: "meta" }, h("b", {}, "To: "), m.message.to.map(addrText).join(", ")) : null,
    m.message.cc.length ? h("div", { class: "meta" }, h("b", {}, "Cc: "), m.message.cc.map(addrText).join(", ")) : null,
    h("div", { class: "meta" }, h("b", {}, "Date: "), new Date(s.date * 1000).toLocaleString(), " · ", `${s.account} / ${s.folder}`),
    account && account.protocol === "pop3"
      ? h("div", { class: "banner warn", id: "reader-pop3" }, words("pop3_explained"))
      : null,
  ];
  if (m.problem) {
    parts.push(h("div", { class: "banner warn", id: "reader-problem" }, adviceText(m.problem.advice)));
  }
  if (m.message.html !== null && m.blockedRemote > 0 && !m.remoteShown) {
    // The engine keeps what the user allowed (this message, or its sender).
    const allow = async (scope: "message" | "sender") => {
      try { await call("allow_remote", { id: s.id, scope }); openMessage(s); }
      catch (e) { status(errText(e), "error"); }
    };
    parts.push(h("div", { class: "banner", id: "remote-banner" },
      `${m.blockedRemote} remote image${m.blockedRemote > 1 ? "s" : ""} blocked to protect your privacy.`,
      h("button", { id: "allow-remote", onclick: () => allow("message") }, "Show images"),
      h("button", { id: "allow-sender", onclick: () => allow("sender") }, `Always show from ${s.from.address}`)));
  }
  if (m.message.html !== null) {
    const frame = h("iframe", { id: "body-frame", sandbox: "allow-same-origin", referrerpolicy: "no-referrer" }) as HTMLIFrameElement;
    frame.srcdoc = srcdoc(m.message.html, m.remoteShown);
    frame.addEventListener("load", () => {
      const doc = frame.contentDocument;
      if (doc?.body) frame.style.height = `${doc.documentElement.scrollHeight + 20}px`;
    });
    parts.push(frame);
  } else {
    parts.push(h("div", { id: "body-text" }, m.message.text ?? "(This message has no text.)"));
  }
  if (m.message.attachments.length) {
    parts.push(h("div", { class: "attachments", id: "attachments" }, ...m.message.attachments.map((a, i) =>
      h("div", { class: "attachment" }, `📎 ${a.name} (${Math.ceil(a.size / 1024)} KB)`,
        h("button", { class: "save-attachment", onclick: async () => {
          try {
            const path = await call<string | null>("save_attachment", { id: s.id, index: i });
            if (path) toast("Saved", path);
          } catch (e) { status(errText(e), "error"); }
        } }, "Save…")))));
  }
  if (m.thread.length > 1) {
    parts.push(h("div", { class: "thread", id: "thread" }, h("b", {}, `Conversation (${m.thread.length})`),
      ...m.thread.map((t) => h("div", { class: t.id === s.id ? "current" : "", onclick: () => openMessage(t) },
        `${fmtDate(t.date)} · ${t.from.name || t.from.address} · ${t.subject}`))));
  }
  reader.replaceChildren(...parts.filter((p): p is HTMLElement => p !== null));
  reader.scrollTop = 0;
}

async function act(kind: "archive" | "delete") {
  const r = S.selected;
  if (!r) return;
  try {
    await call(kind, { ids: [r.id] });
    S.selected = null;
    $("#reader").replaceChildren(h("div", { class: "placeholder" }, kind === "archive" ? "Archived" : "Deleted"));
  } catch (e) { status(errText(e), "error"); }
}

async function toggleFlag() {
  const r = S.selected;
  if (!r) return;
  // The live list brings the new mark (and followSelection the reader's button).
  await call("mark", { ids: [r.id], change: r.flags.flagged ? "unflagged" : "flagged" }).catch((e) => status(errText(e), "error"));
}

async function markUnread() {
  const r = S.selected;
  if (!r) return;
  await call("mark", { ids: [r.id], change: "unread" }).catch((e) => status(errText(e), "error"));
}

// ---------- drag a message onto a folder (pointer events: works with mouse and WebDriver) ----------
function setupDrag() {
  const list = $("#list");
  let start: { x: number; y: number; row: Row } | null = null;
  let ghost: HTMLElement | null = null;
  let target: HTMLElement | null = null;
  list.addEventListener("mousedown", (e) => {
    const el = (e.target as HTMLElement).closest(".row[data-id]") as HTMLElement | null;
    if (!el || e.button !== 0) return;
    const r = rowAt(Number(el.dataset.index));
    if (r) start = { x: e.clientX, y: e.clientY, row: r };
  });
  document.addEventListener("mousemove", (e) => {
    if (!start) return;
    if (!ghost && Math.hypot(e.clientX - start.x, e.clientY - start.y) < 6) return;
    if (!ghost) {
      ghost = h("div", { id: "drag-ghost" }, `Move “${start.row.subject}”`);
      document.body.append(ghost);
    }
    ghost.style.left = `${e.clientX + 12}px`;
    ghost.style.top = `${e.clientY + 8}px`;
    const over = (document.elementFromPoint(e.clientX, e.clientY) as HTMLElement | null)?.closest(".folder[data-account]") as HTMLElement | null;
    if (over !== target) { target?.classList.remove("drop-target"); target = over; target?.classList.add("drop-target"); }
  });
  document.addEventListener("mouseup", async (e) => {
    const s = start;
    start = null;
    if (!s) return;
    if (!ghost) {
      // A click: open the message.
      const el = (e.target as HTMLElement).closest(".row[data-id]") as HTMLElement | null;
      if (el) selectIndex(Number(el.dataset.index));
      return;
    }
    ghost.remove(); ghost = null;
    const t = target; target?.classList.remove("drop-target"); target = null;
    if (!t) return;
    const account = t.dataset.account!, folder = t.dataset.folder!;
    if (account !== s.row.account) { status(`A message can only be filed in a folder of its own account (${s.row.account}).`, "error"); return; }
    if (folder === s.row.folder) return;
    try {
      await call("move_messages", { ids: [s.row.id], folder });
      status(`Moved “${s.row.subject}” to ${folder}`);
      if (S.selected?.id === s.row.id) S.selected = null;
    } catch (err) { status(errText(err), "error"); }
  });
}

// ---------- composer ----------
type Mode = "new" | "reply" | "replyAll" | "forward";
/** Opens the composer with what the engine starts it with: for a reply or forward the
 * recipients, subject and quote (compose_preview); the user edits the fields and the
 * engine sends exactly them. */
async function openComposer(mode: Mode) {
  const m = S.opened;
  if (mode !== "new" && !m) return;
  if (S.accounts.length === 0) { showSetup(true); return; }
  document.querySelector("#composer")?.remove();
  const orig = m?.message.summary;
  let preview: Preview = { to: [], cc: [], toText: "", ccText: "", subject: "", quoted: "", attachments: [] };
  if (mode !== "new") {
    try { preview = await call<Preview>("compose_preview", { mode, original: orig?.id ?? null }); }
    catch (e) { status(errText(e), "error"); return; }
    document.querySelector("#composer")?.remove();
  }
  const accountSelect = h("select", { id: "compose-account", disabled: mode !== "new" },
    ...S.accounts.map((a) => h("option", { value: a.name, selected: a.name === (orig?.account ?? S.accounts[0].name) }, `${a.name} <${a.email}>`)));
  const titles = { new: "New message", reply: "Reply", replyAll: "Reply all", forward: "Forward" };
  const dlg = h("div", { class: "overlay", id: "composer" },
    h("div", { class: "dialog" },
      h("h2", {}, titles[mode]),
      h("div", { class: "form" },
        h("label", {}, "From"), accountSelect,
        h("label", { for: "compose-to" }, "To"), h("input", { id: "compose-to", placeholder: "name@example.org, …", value: preview.toText }),
        h("label", { for: "compose-cc" }, "Cc"), h("input", { id: "compose-cc", value: preview.ccText }),
        h("label", { for: "compose-bcc" }, "Bcc"), h("input", { id: "compose-bcc" }),
        h("label", { for: "compose-subject" }, "Subject"), h("input", { id: "compose-subject", value: preview.subject }),
        h("textarea", { id: "compose-body", class: "full" }),
        preview.quoted ? h("pre", { id: "compose-quoted", class: "full meta" }, preview.quoted) : null,
        preview.attachments.length
          ? h("div", { id: "compose-attachments", class: "full meta" }, ...preview.attachments.map((a) => h("div", {}, `📎 ${a.name} (${Math.ceil(a.size / 1024)} KB)`)))
          : null),
      h("div", { id: "compose-error" }),
      h("div", { class: "buttons" },
        h("button", { id: "compose-cancel", onclick: () => dlg.remove() }, "Discard"),
        h("button", { id: "compose-send", class: "primary", title: "Send (Ctrl+Enter)", onclick: () => send() }, "Send"))));
  const send = async () => {
    const val = (id: string) => ($(`#${id}`) as HTMLInputElement).value;
    const btn = $<HTMLButtonElement>("#compose-send");
    btn.disabled = true;
    try {
      await call("send", { message: {
        mode, account: val("compose-account"), original: orig?.id ?? null,
        to: val("compose-to"), cc: val("compose-cc"), bcc: val("compose-bcc"), subject: val("compose-subject"), body: val("compose-body"),
      } });
      dlg.remove();
      toast("Message queued", "It goes out now; the Changes panel shows it until it has.");
      status("Sending…");
    } catch (e) {
      $("#compose-error").textContent = errText(e);
      btn.disabled = false;
    }
  };
  dlg.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); send(); }
    if (e.key === "Escape") dlg.remove();
  });
  document.body.append(dlg);
  ($(mode === "new" || mode === "forward" ? "#compose-to" : "#compose-body")).focus();
}

// ---------- small dialogs ----------
function ask(title: string, label: string, initial: string, ok: string): Promise<string | null> {
  return new Promise((resolve) => {
    const input = h("input", { id: "dialog-input", value: initial }) as HTMLInputElement;
    const close = (v: string | null) => { dlg.remove(); resolve(v); };
    const dlg = h("div", { class: "overlay", id: "dialog" },
      h("div", { class: "dialog" }, h("h2", {}, title),
        label ? h("div", { class: "form" }, h("label", {}, label), input) : null,
        h("div", { class: "buttons" },
          h("button", { id: "dialog-cancel", onclick: () => close(null) }, "Cancel"),
          h("button", { id: "dialog-ok", class: "primary", onclick: () => close(label ? input.value : "") }, ok))));
    dlg.addEventListener("keydown", (e) => {
      if (e.key === "Enter") close(label ? input.value : "");
      if (e.key === "Escape") close(null);
    });
    document.body.append(dlg);
    (label ? input : $("#dialog-ok")).focus();
  });
}

async function newFolder(account: string) {
  const name = await ask(`New folder in ${account}`, "Name", "", "Create");
  if (!name?.trim()) return;
  try { await call("create_folder", { account, name }); status(`Folder “${name}” created`); }
  catch (e) { status(errText(e), "error"); }
}

async function renameFolder(f: Folder) {
  const name = await ask(`Rename “${f.name}”`, "New name", f.name, "Rename");
  if (!name?.trim() || name === f.name) return;
  try {
    await call("rename_folder", { account: f.account, old: f.name, new: name });
    selectSource({ kind: "folder", account: f.account, folder: name.trim() });
  } catch (e) { status(errText(e), "error"); }
}

async function deleteFolder(f: Folder) {
  if ((await ask(`Delete “${f.name}” and the ${f.total} messages in it?`, "", "", "Delete")) === null) return;
  try {
    await call("delete_folder", { account: f.account, name: f.name });
    selectSource({ kind: "folder", account: null, folder: "INBOX" });
  } catch (e) { status(errText(e), "error"); }
}

async function switchToImap(account: string) {
  if ((await ask(`Switch ${account} to IMAP?`, "", "", "Switch")) === null) return;
  status(`Switching ${account} to IMAP…`);
  try {
    const r = await call<SwitchReport>("switch_to_imap", { account });
    toast("Switched to IMAP", `${r.matched} messages matched, ${r.uploaded} uploaded. This account now syncs between devices.`);
    await loadAccounts();
  } catch (e) { status(errText(e), "error"); }
}

/** One "sync now" in the engine (outbox, queued changes, pull); shows what is left to do. */
async function syncNow() {
  status("Syncing…");
  try {
    const report = await call<SyncNowReport>("sync_now", { account: null });
    S.lastSync = report;
    const problems = report.accounts.filter((a) => a.problem);
    const sent = report.accounts.reduce((n, a) => n + a.sent, 0);
    if (problems.length) showProblems(problems as { account: string; problem: { advice: Advice } }[]);
    else status(`Up to date · ${new Date().toLocaleTimeString()}${sent ? ` · ${sent} sent` : ""}`);
  } catch (e) { status(errText(e), "error"); }
}

// ---------- pending and failed changes ----------
type Change = PendingChange;
type Outgoing = OutboxMessage;
/** Reads the open panel's changes; a call while one is under way reads once more after it
 * (the status's counts say when something changed). */
let changesBusy = false;
let changesAgain = false;
async function updateChanges() {
  if (!document.querySelector("#changes-panel")) return;
  if (changesBusy) { changesAgain = true; return; }
  changesBusy = true;
  try {
    do {
      changesAgain = false;
      showChanges(await call<{ changes: Change[]; outbox: Outgoing[] }>("changes"));
    } while (changesAgain);
  } catch (e) {
    status(errText(e), "error");
  } finally {
    changesBusy = false;
  }
}
/** Undoes a change that has not reached the server (and the waiting ones that depend on it). */
async function undoChange(c: Change) {
  try {
    const undone = await call<number[]>("cancel_change", { id: c.id });
    toast("Undone", undone.length > 1 ? `${undone.length} changes taken back` : `${c.kind}: ${c.target}`);
  } catch (e) { status(errText(e), "error"); }
  updateChanges();
}
function showChanges({ changes, outbox }: { changes: Change[]; outbox: Outgoing[] }) {
  const panel = document.querySelector("#changes-panel");
  if (!panel) return;
  fill(panel as HTMLElement,
    h("h3", {}, "Changes on their way to the server"),
    changes.length === 0 ? h("div", { class: "meta", id: "no-changes" }, "Nothing waiting: the server has everything.") : null,
    ...changes.map((c) => h("div", { class: "change " + c.state, "data-change": c.id },
      h("b", {}, c.state === "failed" ? "Failed: " : "Pending: "), `${c.account}: ${c.target}`,
      c.attempts ? ` (${c.attempts} tries)` : "",
      c.lastError ? h("div", { class: "err" }, c.lastError) : null,
      c.state === "failed" ? h("div", {},
        h("button", { onclick: async () => { await call("retry_change", { id: c.id }); updateChanges(); } }, "Retry"), " ",
        h("button", { onclick: async () => { await call("discard_change", { id: c.id }); updateChanges(); } }, "Discard"))
        : h("div", {}, h("button", { class: "undo-change", onclick: () => undoChange(c) }, "Undo")))),
    h("h3", {}, "Outbox"),
    outbox.length === 0 ? h("div", { class: "meta" }, "Nothing to send.") : null,
    ...outbox.map((o) => h("div", { class: "change " + (o.state === "failed" ? "failed" : "") },
      h("b", {}, o.state + ": "), `${o.subject} → ${o.recipients.join(", ")}`, o.lastError ? h("div", { class: "err" }, o.lastError) : null)),
  );
}
function toggleChanges() {
  const panel = document.querySelector("#changes-panel");
  if (panel) { panel.remove(); return; }
  document.body.append(h("aside", { id: "changes-panel" }));
  updateChanges();
}

// ---------- first run: account setup ----------
/** A form as the engine fills it (discovery) and as `add_account` takes it back. */
interface FormDraft {
  name: string | null; email: string | null; displayName: string | null; protocol: string | null;
  host: string | null; port: number | null; security: string | null; username: string | null;
  caFile: string | null; smtpHost: string | null; smtpPort: number | null; smtpSecurity: string | null;
  smtpUsername: string | null; pop3Delete: string | null;
}
/** `discover_account`: what `Engine::discover` found. */
interface Discovery {
  source: string; draft: FormDraft; alternatives: FormDraft[]; tried: string[]; plaintext: boolean;
  /** The provider to sign in with instead of a password. */
  oauth: OAuthProvider | null;
  /** The advice id when the provider needs a sign-in this build lacks, and its name. */
  oauthUnavailable: string; oauthUnavailableName: string;
}
const secText = (s: string | null) => (s ? t(`sec_${s}`) : "");

// ---------- OAuth2 sign-in: the system browser, back to the engine's loopback ----------
/** Opens the provider's page in the system browser (the shell: `$BROWSER` or the
 * system's opener) and shows "waiting for the browser" with Cancel while `finish` waits
 * for the engine (which listens on 127.0.0.1 for the browser to come back). Cancel tells
 * that listener the sign-in was declined: `finish` then fails with `oauth_cancelled`. */
async function browserSignIn<T>(provider: OAuthProvider, email: string, finish: (signIn: string) => Promise<T>): Promise<T> {
  const start = await call<SignInStart>("begin_sign_in", { email, provider });
  const cancel = h("button", { id: "oauth-cancel", onclick: () => {
    cancel.disabled = true;
    call("cancel_sign_in", { redirectUri: start.redirectUri, signIn: start.state }).catch((e) => status(errText(e), "error"));
  } }, t("cancel")) as HTMLButtonElement;
  const panel = h("div", { class: "overlay", id: "oauth-waiting", "data-provider": provider.id, "data-state": start.state },
    h("div", { class: "dialog" },
      h("h2", {}, t("oauth_sign_in_with", { name: provider.name })),
      h("p", { id: "oauth-waiting-text", role: "status" }, t("oauth_waiting", { name: provider.name })),
      h("progress", { class: "waiting", "aria-label": t("oauth_waiting", { name: provider.name }) }),
      start.browserError ? h("p", { class: "error-text", id: "oauth-no-browser" }, t("oauth_no_browser")) : null,
      start.browserError ? h("input", { id: "oauth-url", readonly: true, value: start.url, "aria-label": t("oauth_page") }) : null,
      h("div", { class: "buttons" }, cancel)));
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") cancel.click(); });
  document.body.append(panel);
  status(t("oauth_waiting", { name: provider.name }));
  try {
    return await finish(start.state);
  } finally {
    panel.remove();
  }
}

/** A new sign-in for the OAuth2 account `name` (its grant was refused or revoked). */
async function signInAgain(name: string): Promise<void> {
  const acc = S.accounts.find((a) => a.name === name);
  if (!acc?.oauth) return;
  await browserSignIn(acc.oauth, acc.email, (signIn) => call("sign_in_again", { name, signIn }));
  status(t("oauth_signed_in_again", { name }));
  await loadAccounts();
}

/** An error's words, with "Sign in again" when its advice asks for that. */
function errorWithAction(el: HTMLElement, e: unknown, account: string) {
  fill(el, errText(e));
  const advice = (e as CmdError | null)?.advice;
  if (advice?.id === "oauth_sign_in_again" && S.accounts.some((a) => a.name === account && a.oauth)) {
    el.append(" ", signInAgainButton(account, el));
  }
}

/** "Sign in again" for `account`; its failure is said in `errorEl` (or the settings'
 * error line), its success in `noteEl` (and the status bar). */
function signInAgainButton(account: string, errorEl: HTMLElement | null = null, noteEl: HTMLElement | null = null): HTMLElement {
  const btn = h("button", { class: "sign-in-again", "data-account": account, onclick: async () => {
    btn.disabled = true;
    if (noteEl) noteEl.textContent = "";
    try {
      await signInAgain(account);
      if (errorEl) errorEl.textContent = "";
      if (noteEl) noteEl.textContent = t("oauth_signed_in_again", { name: account });
    } catch (e) {
      status(errText(e), "error");
      const el = errorEl ?? document.querySelector<HTMLElement>("#acct-error");
      if (el) el.textContent = errText(e);
    } finally {
      btn.disabled = false;
    }
  } }, t("oauth_sign_in_again")) as HTMLButtonElement;
  return btn;
}

function showSetup(firstRun: boolean) {
  document.querySelector("#setup")?.remove();
  const field = (id: string, label: string, attrs: Record<string, unknown> = {}) =>
    [h("label", { for: id }, label), h("input", { id, ...attrs })];
  // "Automatic": the engine picks it (from the port, or its default).
  const security = (id: string) => h("select", { id },
    h("option", { value: "" }, "Automatic"), h("option", { value: "tls" }, "TLS"),
    h("option", { value: "starttls" }, "STARTTLS"), h("option", { value: "plain" }, "None (unsafe)"));
  const cancel = (id: string) => firstRun ? null : h("button", { id, onclick: () => dlg.remove() }, t("cancel"));
  // 1. Address and password; the engine finds the rest.
  const start = h("section", { id: "setup-start" },
    h("div", { class: "meta", style: "margin-bottom:8px" }, t("setup_start_intro")),
    h("div", { class: "form" },
      ...field("setup-address", t("setup_address"), { type: "email", placeholder: "you@example.org", autocomplete: "email" }),
      ...field("setup-start-password", t("setup_password"), { type: "password" })),
    h("div", { id: "setup-start-error", class: "error-text" }),
    h("div", { class: "buttons" },
      cancel("setup-start-cancel"),
      h("button", { id: "setup-manual-btn", onclick: () => openManual(null) }, t("setup_manual")),
      h("button", { id: "setup-continue", class: "primary", onclick: () => discover() }, t("setup_continue"))));
  // 2. What was found, to confirm (the password goes to the server only then).
  const found = h("section", { id: "setup-found", class: "hidden" });
  // 3. Every field by hand (pre-filled from discovery).
  const manual = h("section", { id: "setup-manual", class: "hidden" },
      h("div", { class: "meta", style: "margin-bottom:6px" }, "On how many devices do you read this mail?"),
      h("div", { class: "choice" },
        h("label", {}, h("input", { type: "radio", name: "devices", id: "devices-several", value: "several", checked: true }), " Several (phone and PC…)"),
        h("label", {}, h("input", { type: "radio", name: "devices", id: "devices-one", value: "one" }), " Only this PC")),
      h("div", { class: "advice", id: "advice" }),
      h("div", { class: "choice" },
        h("label", {}, h("input", { type: "radio", name: "protocol", id: "protocol-imap", value: "imap", checked: true }), " ", h("b", {}, "IMAP"), " ",
          h("span", { class: "meta", id: "imap-explained" }, words("imap_explained"))),
        h("label", {}, h("input", { type: "radio", name: "protocol", id: "protocol-pop3", value: "pop3" }), " ", h("b", {}, "POP3"), " ",
          h("span", { class: "meta", id: "pop3-explained" }, words("pop3_explained")))),
      h("div", { class: "form" },
        ...field("setup-email", "E-mail", { placeholder: "you@example.org" }),
        ...field("setup-name", "Account name", { placeholder: "Work, Home… (your e-mail address if empty)" }),
        ...field("setup-display", "Your name"),
        ...field("setup-host", "Server"),
        h("label", { for: "setup-security" }, "Security"), security("setup-security"),
        ...field("setup-port", "Port", { type: "number", placeholder: "automatic" }),
        ...field("setup-user", "User name", { placeholder: "your e-mail address if empty" }),
        ...field("setup-password", "Password", { type: "password" }),
        h("label", { for: "setup-pop3-delete", class: "pop3-only" }, "Remove from server"),
        h("select", { id: "setup-pop3-delete", class: "pop3-only" },
          h("option", { value: "never" }, "Never (keep mail on the server)"),
          h("option", { value: "delete-after-download" }, "After download"),
          h("option", { value: "after-days:14" }, "After 14 days"),
          h("option", { value: "when-deleted-here" }, "When I delete it here")),
        ...field("setup-smtp-host", "SMTP server", { placeholder: "automatic" }),
        h("label", { for: "setup-smtp-security" }, "SMTP security"), security("setup-smtp-security"),
        ...field("setup-smtp-port", "SMTP port", { type: "number", placeholder: "automatic" }),
        ...field("setup-smtp-user", t("setup_smtp_user"), { placeholder: "the incoming user name if empty" }),
        ...field("setup-ca", "Extra CA file", { placeholder: "only for a private server" }),
        ...field("setup-oauth-issuer", t("setup_oauth_issuer"), { type: "url", placeholder: t("setup_oauth_issuer_hint") }),
        ...field("setup-oauth-client", t("setup_oauth_client"), { placeholder: t("setup_oauth_client_hint") })),
      h("div", { id: "setup-error" }),
      h("div", { class: "buttons" },
        h("button", { id: "setup-back", onclick: () => show(start) }, t("back")),
        cancel("setup-cancel"),
        h("button", { id: "setup-submit", class: "primary", onclick: () => submit() }, "Add account")));
  const dlg = h("div", { class: "overlay", id: "setup" },
    h("div", { class: "dialog" },
      h("h2", {}, firstRun ? "Welcome to Brevdue: add your mail account" : "Add an account"),
      S.info.testPasswords ? h("div", { class: "banner warn", id: "test-passwords" }, "Test mode (BREVDUE_INSECURE_TEST_PASSWORDS=1): passwords are kept in memory only and forgotten when Brevdue closes.") : null,
      !S.info.keychainOk && !S.info.testPasswords ? h("div", { class: "banner error", id: "keychain-warning" }, S.info.keychainMessage ?? "No keychain is running.") : null,
      start, found, manual));
  document.body.append(dlg);
  const show = (section: HTMLElement) => {
    for (const s of [start, found, manual]) s.classList.toggle("hidden", s !== section);
  };
  const val = (id: string) => ($(`#${id}`) as HTMLInputElement).value.trim();
  const setVal = (id: string, v: string | number | null | undefined) => { ($(`#${id}`) as HTMLInputElement).value = v == null ? "" : String(v); };
  const proto = () => (dlg.querySelector("input[name=protocol]:checked") as HTMLInputElement).value;
  const update = () => {
    const several = ($("#devices-several") as HTMLInputElement).checked;
    const pop = proto() === "pop3";
    $("#advice").textContent = words("pop_or_imap");
    if (several && pop) $("#advice").append(" ", h("b", { id: "advice-several" }, words("pop3_several_devices")));
    dlg.querySelectorAll(".pop3-only").forEach((e) => (e as HTMLElement).classList.toggle("hidden", !pop));
  };
  dlg.querySelectorAll("#setup-manual input[type=radio]").forEach((e) => e.addEventListener("change", update));
  $("#devices-several").addEventListener("change", () => { ($("#protocol-imap") as HTMLInputElement).checked = true; update(); });
  update();
  $("#setup-start-password").addEventListener("keydown", (e) => { if ((e as KeyboardEvent).key === "Enter") discover(); });
  ($("#setup-address") as HTMLInputElement).focus();
  const startPassword = () => ($("#setup-start-password") as HTMLInputElement).value;
  const added = async () => {
    dlg.remove();
    status("Account added: downloading mail…");
    await loadAccounts();
    selectSource({ kind: "folder", account: null, folder: "INBOX" });
  };

  /** The manual fields, filled from a discovered form (or the address and password). */
  function openManual(d: FormDraft | null, error?: unknown) {
    const email = d?.email ?? val("setup-address");
    if (email) setVal("setup-email", email);
    if (!($("#setup-password") as HTMLInputElement).value) setVal("setup-password", startPassword());
    if (d) {
      setVal("setup-display", d.displayName); setVal("setup-host", d.host); setVal("setup-port", d.port);
      setVal("setup-security", d.security); setVal("setup-user", d.username); setVal("setup-smtp-host", d.smtpHost);
      setVal("setup-smtp-port", d.smtpPort); setVal("setup-smtp-security", d.smtpSecurity);
      setVal("setup-smtp-user", d.smtpUsername); setVal("setup-ca", d.caFile);
      const pop = d.protocol === "pop3";
      ($(pop ? "#devices-one" : "#devices-several") as HTMLInputElement).checked = true;
      ($(pop ? "#protocol-pop3" : "#protocol-imap") as HTMLInputElement).checked = true;
      update();
    }
    $("#setup-error").textContent = error === undefined ? "" : errText(error);
    show(manual);
  }

  async function discover() {
    const email = val("setup-address");
    const btn = $<HTMLButtonElement>("#setup-continue");
    btn.disabled = true;
    $("#setup-start-error").textContent = "";
    status(t("setup_looking", { email }));
    try {
      const d = await call<Discovery>("discover_account", { email, caFile: null });
      status("Ready");
      showFound(d);
    } catch (e) {
      // The advice, and the fields to enter by hand.
      status(errText(e), "error");
      openManual(null, e);
    } finally {
      btn.disabled = false;
    }
  }

  function showFound(d: Discovery) {
    const pop = d.alternatives.find((a) => a.protocol === "pop3");
    let chosen = d.draft;
    const incoming = h("dd", { id: "found-incoming" });
    const user = h("dd", { id: "found-user" });
    const render = () => {
      incoming.textContent = `${(chosen.protocol ?? "imap").toUpperCase()} · ${chosen.host}:${chosen.port} · ${secText(chosen.security)}`;
      user.textContent = chosen.username ?? chosen.email ?? "";
    };
    const oauth = d.oauth;
    const confirm = h("button", { id: "found-confirm", class: "primary", disabled: d.plaintext, "data-oauth": oauth?.id,
      onclick: () => (oauth ? signIn(oauth) : add()) },
      oauth ? t("oauth_sign_in_with", { name: oauth.name }) : t("found_confirm")) as HTMLButtonElement;
    const choose = (draft: FormDraft) => () => { chosen = draft; render(); };
    fill(found,
      h("h3", { id: "found-title" }, t("found_title", { email: d.draft.email ?? val("setup-address") })),
      h("div", { class: "meta", id: "found-source", "data-source": d.source }, t("found_via", { source: t(`source_${d.source}`) })),
      h("dl", { class: "found", id: "found-settings" },
        h("dt", {}, t("found_incoming")), incoming,
        h("dt", {}, t("found_user")), user,
        h("dt", {}, t("found_smtp")),
        h("dd", { id: "found-smtp" }, `${d.draft.smtpHost}:${d.draft.smtpPort} · ${secText(d.draft.smtpSecurity)}`)),
      oauth ? h("div", { class: "advice", id: "found-oauth" }, t("oauth_no_password", { name: oauth.name })) : null,
      d.oauthUnavailable ? h("div", { class: "banner warn", id: "found-oauth-unavailable" }, words(d.oauthUnavailable, d.oauthUnavailableName)) : null,
      pop ? h("div", { class: "advice", id: "found-advice" }, words("pop_or_imap")) : null,
      pop ? h("div", { class: "choice" },
        h("label", {}, h("input", { type: "radio", name: "found-protocol", id: "found-imap", checked: true, onchange: choose(d.draft) }), " ", h("b", {}, "IMAP"), " ",
          h("span", { class: "meta" }, words("imap_explained"))),
        h("label", {}, h("input", { type: "radio", name: "found-protocol", id: "found-pop3", onchange: choose(pop) }), " ", h("b", {}, "POP3"), " ",
          h("span", { class: "meta" }, words("pop3_explained")))) : null,
      d.plaintext ? h("div", { class: "banner error", id: "found-plaintext" }, words("discovery_plaintext_only"),
        h("label", {}, h("input", { type: "checkbox", id: "found-plain-ok", onchange: (e: Event) => { confirm.disabled = !(e.target as HTMLInputElement).checked; } }),
          " ", t("found_plain_ok"))) : null,
      h("div", { id: "found-error", class: "error-text" }),
      h("div", { class: "buttons" },
        h("button", { id: "found-back", onclick: () => show(start) }, t("back")),
        h("button", { id: "found-edit", onclick: () => openManual(chosen) }, t("found_edit")),
        confirm));
    render();
    show(found);

    async function add() {
      confirm.disabled = true;
      $("#found-error").textContent = "";
      status(t("found_checking"));
      try {
        await call("add_account", { account: { ...chosen, password: startPassword() } });
        await added();
      } catch (e) {
        $("#found-error").textContent = errText(e);
        status("The account was not added", "error");
        confirm.disabled = false;
      }
    }

    async function signIn(provider: OAuthProvider) {
      confirm.disabled = true;
      $("#found-error").textContent = "";
      try {
        await addWithSignIn(provider, chosen as unknown as Record<string, unknown>);
      } catch (e) {
        $("#found-error").textContent = errText(e);
        status(errText(e), "error");
        confirm.disabled = false;
      }
    }
  }

  /** The account form, signed in with `provider` instead of a password: the browser,
   * then the engine checks the servers take the token and saves; the same "added". */
  async function addWithSignIn(provider: OAuthProvider, form: Record<string, unknown>) {
    const account = { ...form };
    delete account.password;
    // The engine waits for the browser, then checks the servers take the token.
    await browserSignIn(provider, String(account.email ?? ""), (signIn) => call("add_oauth_account", { account, signIn }));
    await added();
  }

  const submit = async () => {
    const btn = $<HTMLButtonElement>("#setup-submit");
    btn.disabled = true;
    $("#setup-error").textContent = "";
    status("Checking the login…");
    // As typed: blank is "not given", and the engine (AccountDraft::resolve) fills in the rest.
    const port = (id: string) => (val(id) ? Number(val(id)) : null);
    const account = {
      name: val("setup-name"), email: val("setup-email"), displayName: val("setup-display"),
      protocol: proto(), host: val("setup-host"), port: port("setup-port"), security: val("setup-security"),
      username: val("setup-user"), password: ($("#setup-password") as HTMLInputElement).value,
      caFile: val("setup-ca"), smtpHost: val("setup-smtp-host"), smtpPort: port("setup-smtp-port"),
      smtpSecurity: val("setup-smtp-security"), smtpUsername: val("setup-smtp-user"),
      pop3Delete: proto() === "pop3" ? val("setup-pop3-delete") : null,
    };
    const issuer = val("setup-oauth-issuer"), clientId = val("setup-oauth-client");
    try {
      if (issuer || clientId) {
        // Both: the account signs in through that issuer instead of a password.
        if (!issuer || !clientId) throw new Error(t("setup_oauth_both"));
        const provider = await call<OAuthProvider>("oauth_provider_from_issuer", { issuer, clientId });
        await addWithSignIn(provider, account);
        return;
      }
      await call("add_account", { account });
      await added();
    } catch (e) {
      $("#setup-error").textContent = e instanceof Error ? e.message : errText(e);
      status("The account was not added", "error");
      btn.disabled = false;
    }
  };
}

// ---------- account settings ----------
/** The POP3 policy as the form (and `Pop3DeletePolicy::from_str`) writes it. */
function policyText(p: Pop3DeletePolicy): string {
  switch (p.policy) {
    case "never": return "never";
    case "afterDownload": return "delete-after-download";
    case "afterDays": return `after-days:${p.days}`;
    default: return "when-deleted-here";
  }
}

function showSettings(name: string) {
  const acc = S.accounts.find((a) => a.name === name);
  if (!acc) return;
  document.querySelector("#account-settings")?.remove();
  const field = (id: string, label: string, value: string | number | null, attrs: Record<string, unknown> = {}) =>
    [h("label", { for: id }, label), h("input", { id, value: value ?? "", ...attrs })];
  const security = (id: string, value: string) => {
    const sel = h("select", { id },
      h("option", { value: "tls" }, t("sec_tls")), h("option", { value: "starttls" }, t("sec_starttls")),
      h("option", { value: "plain" }, t("sec_plain"))) as HTMLSelectElement;
    sel.value = value;
    return [h("label", { for: id }, t("settings_security")), sel];
  };
  const pop = acc.protocol === "pop3";
  const policy = policyText(acc.pop3Delete);
  const policies = ["never", "delete-after-download", "after-days:14", "when-deleted-here"];
  if (!policies.includes(policy)) policies.push(policy);
  const policyLabels: Record<string, string> = { never: "Never (keep mail on the server)", "delete-after-download": "After download", "when-deleted-here": "When I delete it here" };
  const folders = S.folders.filter((f) => f.account === name).sort((a, b) => a.name.localeCompare(b.name));
  const sent = folders.find((f) => f.role === "sent")?.name ?? "";
  const display = acc.identities[0]?.name ?? "";
  const oauthNote = h("span", { id: "acct-oauth-note", class: "meta", role: "status" });
  const dlg = h("div", { class: "overlay", id: "account-settings", "data-account": name },
    h("div", { class: "dialog" },
      h("h2", {}, t("settings_title", { name })),
      h("div", { class: "form" },
        ...field("acct-display", t("settings_display"), display),
        ...(acc.oauth
          ? [h("label", {}, t("settings_sign_in")),
            h("div", { id: "acct-oauth", "data-provider": acc.oauth.id },
              h("span", { id: "acct-oauth-name" }, t("settings_oauth", { name: acc.oauth.name })), " ",
              signInAgainButton(name, null, oauthNote), " ", oauthNote)]
          : field("acct-password", t("settings_password"), "", { type: "password", placeholder: t("settings_password_keep") })),
        h("h3", { class: "full" }, t("settings_incoming"), ` (${acc.protocol.toUpperCase()})`),
        ...field("acct-host", t("settings_host"), acc.server.host),
        ...security("acct-security", acc.server.security),
        ...field("acct-port", t("settings_port"), acc.server.port, { type: "number" }),
        ...field("acct-user", t("settings_user"), acc.server.username),
        h("h3", { class: "full" }, t("settings_smtp")),
        ...field("acct-smtp-host", t("settings_host"), acc.smtp.host),
        ...security("acct-smtp-security", acc.smtp.security),
        ...field("acct-smtp-port", t("settings_port"), acc.smtp.port, { type: "number" }),
        ...field("acct-smtp-user", t("settings_user"), acc.smtp.username),
        ...field("acct-ca", t("settings_ca"), acc.server.caFile ?? "", { placeholder: t("settings_ca_hint") }),
        pop ? h("label", { for: "acct-pop3-delete" }, t("settings_pop3_delete")) : null,
        pop ? h("select", { id: "acct-pop3-delete" },
          ...policies.map((p) => h("option", { value: p, selected: p === policy }, policyLabels[p] ?? p.replace("after-days:", "After {n} days".replace("{n}", p.slice(11)))))) : null,
        !pop ? h("label", { for: "acct-sent" }, t("settings_sent")) : null,
        !pop ? h("select", { id: "acct-sent" },
          h("option", { value: "" }, "—"),
          ...folders.filter((f) => f.role !== "inbox").map((f) => h("option", { value: f.name, selected: f.name === sent }, f.name))) : null),
      h("div", { id: "acct-error", class: "error-text" }),
      h("div", { class: "buttons" },
        h("button", { id: "acct-remove", class: "danger", onclick: () => remove() }, t("settings_remove")),
        h("button", { id: "acct-close", onclick: () => dlg.remove() }, t("close")),
        h("button", { id: "acct-save", class: "primary", onclick: () => save() }, t("save")))));
  dlg.addEventListener("keydown", (e) => { if (e.key === "Escape") dlg.remove(); });
  document.body.append(dlg);
  const val = (id: string) => ($(`#${id}`) as HTMLInputElement).value.trim();

  async function save() {
    // Only what changed: the engine keeps the rest (and checks a new password or server
    // by logging in before it saves anything).
    const edit: Record<string, unknown> = {};
    const text = (key: string, id: string, current: string) => { if (val(id) !== current) edit[key] = val(id); };
    const number = (key: string, id: string, current: number) => { if (val(id) && Number(val(id)) !== current) edit[key] = Number(val(id)); };
    text("displayName", "acct-display", display);
    text("host", "acct-host", acc!.server.host);
    number("port", "acct-port", acc!.server.port);
    text("security", "acct-security", acc!.server.security);
    text("username", "acct-user", acc!.server.username);
    text("smtpHost", "acct-smtp-host", acc!.smtp.host);
    number("smtpPort", "acct-smtp-port", acc!.smtp.port);
    text("smtpSecurity", "acct-smtp-security", acc!.smtp.security);
    text("smtpUsername", "acct-smtp-user", acc!.smtp.username);
    text("caFile", "acct-ca", acc!.server.caFile ?? "");
    if (pop) text("pop3Delete", "acct-pop3-delete", policy);
    const password = (document.querySelector("#acct-password") as HTMLInputElement | null)?.value;
    if (password) edit.password = password;
    const sentNow = pop ? "" : val("acct-sent");
    const btn = $<HTMLButtonElement>("#acct-save");
    btn.disabled = true;
    $("#acct-error").textContent = "";
    try {
      if (Object.keys(edit).length) {
        status(t("settings_checking"));
        await call("edit_account", { name, edit });
      }
      if (sentNow && sentNow !== sent) await call("choose_special_folder", { account: name, role: "sent", folder: sentNow });
      const changed = Object.keys(edit).length > 0 || (sentNow !== "" && sentNow !== sent);
      dlg.remove();
      status(t(changed ? "settings_saved" : "settings_nothing"));
      await loadAccounts();
    } catch (e) {
      // The form stays as typed, to be fixed.
      errorWithAction($("#acct-error"), e, name);
      status(errText(e), "error");
      btn.disabled = false;
    }
  }

  async function remove() {
    if ((await ask(t("settings_remove_confirm", { name }), "", "", t("remove"))) === null) return;
    try {
      await call("remove_account", { name });
      dlg.remove();
      status(t("settings_removed", { name }));
      await loadAccounts();
      selectSource({ kind: "folder", account: null, folder: "INBOX" });
    } catch (e) {
      $("#acct-error").textContent = errText(e);
    }
  }
}

// ---------- keyboard shortcuts ----------
function setupKeys() {
  document.addEventListener("keydown", (e) => {
    const t = e.target as HTMLElement;
    if (t.closest("input, textarea, select, .overlay") || e.ctrlKey || e.altKey || e.metaKey) return;
    const keys: Record<string, () => void> = {
      j: () => selectIndex(S.selectedIndex + 1),
      ArrowDown: () => selectIndex(S.selectedIndex + 1),
      k: () => selectIndex(Math.max(0, S.selectedIndex - 1)),
      ArrowUp: () => selectIndex(Math.max(0, S.selectedIndex - 1)),
      c: () => openComposer("new"),
      r: () => openComposer("reply"),
      a: () => openComposer("replyAll"),
      f: () => openComposer("forward"),
      e: () => act("archive"),
      "#": () => act("delete"),
      Delete: () => act("delete"),
      s: () => toggleFlag(),
      u: () => markUnread(),
      "/": () => $("#search").focus(),
      g: () => selectSource({ kind: "folder", account: null, folder: "INBOX" }),
    };
    const f = keys[e.key];
    if (f) { e.preventDefault(); f(); }
  });
}

// ---------- the status bar (the engine's sync status) ----------
function onStatus(st: SyncStatus) {
  const before = S.status;
  S.status = st;
  const bar = $<HTMLProgressElement>("#sync-progress");
  const syncing = st.accounts.find((a) => a.syncing);
  if (syncing) {
    bar.classList.remove("hidden");
    if (syncing.total > 0) {
      bar.max = syncing.total; bar.value = syncing.done;
      status(`Syncing ${syncing.account}: ${syncing.folder ?? ""} ${syncing.done}/${syncing.total}`);
    } else {
      bar.removeAttribute("value");
      status(`Syncing ${syncing.account}…`);
    }
  } else {
    bar.classList.add("hidden");
    const problems = st.accounts.filter((a) => a.problem);
    if (problems.length) showProblems(problems as { account: string; problem: { advice: Advice } }[]);
    else if (before.accounts.some((a) => a.syncing)) status(`Up to date · ${new Date().toLocaleTimeString()}`);
  }
  $("#push-state").textContent = st.accounts
    .map((a) => `${a.pushConnected ? "●" : "○"} ${a.account}: ${a.pushConnected ? "live" : "offline"}`).join("  ");
  const waiting = (x: SyncStatus) => x.accounts.map((a) => `${a.outbox}/${a.changesWaiting}/${a.changesFailed}`).join();
  const n = st.accounts.reduce((n, a) => n + a.outbox + a.changesWaiting + a.changesFailed, 0);
  const badge = $("#changes-badge");
  badge.textContent = String(n);
  badge.classList.toggle("hidden", n === 0);
  if (waiting(before) !== waiting(st)) updateChanges();
}

// ---------- engine events: lists, status, and what is said once ----------
async function listenEngine() {
  await listen<ListEvent<Row>>("messages", ({ payload }) => onMessages(payload));
  await listen<ListEvent<Folder>>("folders", ({ payload }) => {
    if (payload.list !== S.foldersId) return;
    if (payload.error) { status(errText(payload.error), "error"); return; }
    S.folders = applyDiffs(S.folders, payload.diffs ?? []);
    // Folders of an account this window has not read yet: it was just added.
    if (S.folders.some((f) => !S.accounts.some((a) => a.name === f.account))) loadAccounts();
    renderSidebar();
  });
  await listen<SyncStatus>("status", ({ payload }) => onStatus(payload));
  await listen<EngineEvent>("engine", ({ payload: e }) => {
    if (e.type === "changeFailed") toast("The server refused a change", adviceText(e.advice), 10000);
    if (e.type === "advisory") {
      const el = toast(`About ${e.account}`, adviceText(e.advice), 15000);
      // No Sent folder on the server: the engine made one; another can be chosen.
      if (e.advice.id === "sent_folder_created") {
        el.append(h("button", { class: "choose-sent", onclick: () => showSettings(e.account) }, t("choose_sent_folder")));
      }
    }
  });
  await listen<{ title: string; body: string }>("notification", ({ payload }) => {
    S.notifications.push(payload);
    toast(payload.title, payload.body, 10000);
  });
}

// ---------- start ----------
async function main() {
  layout();
  setupDrag();
  setupKeys();
  await listenEngine();
  S.info = await call("app_info");
  await loadAccounts();
  await Promise.all([watchFolders(), call("watch_status")]);
  selectSource({ kind: "folder", account: null, folder: "INBOX" });
  if (S.accounts.length === 0) showSetup(true);
  document.body.dataset.ready = "1";
}
main().catch((e) => status(errText(e), "error"));

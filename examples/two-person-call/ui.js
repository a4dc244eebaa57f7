// Small DOM helpers for app.js: no framework, no innerHTML (every text goes in as text).

/** The element with this id (throws on a typo, at once). */
export const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el;
};

/** Shows or hides each element by id. */
export function show(ids, visible = true) {
  for (const id of [].concat(ids)) $(id).hidden = !visible;
}

/** An element with attributes and children (strings become text nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (v !== false && v !== undefined && v !== null) el.setAttribute(k, v === true ? '' : String(v));
  }
  el.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** The line at the top: what happened, or what went wrong (a 429 says which limit and for how long). */
export function status(text, isError = false) {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', isError);
}

/** A sentence for an SDK error: its code, and for a refusal by a limit, the limit and the wait. */
export function describeError(err) {
  const code = err?.code ?? 'error';
  const limit = err?.details?.limit;
  if (limit) return `${code}: ${err.message} (limit ${limit}; free again in ${err.details.retryAfter} s)`;
  return `${code}: ${err?.message ?? String(err)}`;
}

/** Runs an action from a button or form, showing its error instead of throwing it away. */
export function guarded(action) {
  return async (event) => {
    event?.preventDefault?.();
    try {
      await action(event);
    } catch (err) {
      console.warn(err);
      status(describeError(err), true);
    }
  };
}

/** Replaces a list's items. */
export function fill(listId, items, empty) {
  const list = $(listId);
  list.replaceChildren(...(items.length ? items : [h('li', { class: 'muted' }, empty)]));
}

// The key panel: import a key file (file picker or pasted JSON), create a
// key in this browser, or forget the key. Used by the Member and DSO pages.

import { h, fill, note } from './dom.js';
import { currentKey, importKeyFile, createBrowserKey, forgetKey } from './keystore.js';

/** Renders into el; calls onChange(signer|null) after the key changes. */
export async function keyPanel(el, onChange, { who = 'member' } = {}) {
  const signer = await currentKey();
  const msg = h('div', { class: 'key-msg', 'aria-live': 'polite' });
  const fail = (err) => fill(msg, note('error', err.message, 'key-error'));

  const use = async (text) => {
    try {
      const s = await importKeyFile(text);
      await keyPanel(el, onChange, { who });
      onChange(s);
    } catch (err) {
      fail(err);
    }
  };

  if (signer) {
    fill(
      el,
      h(
        'div',
        { class: 'key-on', testid: 'key-status' },
        h('div', {}, 'Signed in as ', h('strong', { testid: 'key-id' }, signer.id), signer.role && signer.role !== 'member' ? ` (${signer.role})` : ''),
        h('div', { class: 'muted small' }, signer.source === 'file' ? 'Key imported from a file, kept for this tab only.' : 'Key created in this browser; its private half cannot leave it.'),
        h('div', { class: 'small' }, 'Public key ', h('code', { class: 'break', testid: 'key-pub' }, signer.pub)),
        h(
          'button',
          {
            type: 'button',
            class: 'secondary',
            testid: 'forget-key',
            onclick: async () => {
              await forgetKey();
              await keyPanel(el, onChange, { who });
              onChange(null);
            },
          },
          'Forget key',
        ),
      ),
    );
    return signer;
  }

  const file = h('input', {
    type: 'file',
    accept: '.json,application/json',
    testid: 'key-file',
    id: 'key-file',
    onchange: async () => {
      const f0 = file.files?.[0];
      if (f0) await use(await f0.text());
    },
  });
  const paste = h('textarea', { rows: 3, testid: 'key-paste', id: 'key-paste', placeholder: '{"id": "h01", "role": "member", "priv_key": "…"}', spellcheck: 'false' });
  const newId = h('input', { type: 'text', testid: 'new-key-id', placeholder: 'your participant id, e.g. alice', autocomplete: 'off' });

  fill(
    el,
    h(
      'div',
      { class: 'key-off', testid: 'key-prompt' },
      h('p', {}, `Import your ${who} key to see your private data and sign orders. The key stays in this browser: requests and transactions are signed here, the API never sees it.`),
      h('div', { class: 'key-ways' },
        h('div', {}, h('label', { for: 'key-file' }, 'Key file (keys/NAME.json in the node home)'), file),
        h(
          'div',
          {},
          h('label', { for: 'key-paste' }, 'or paste it'),
          paste,
          h('button', { type: 'button', testid: 'key-paste-use', onclick: () => use(paste.value) }, 'Use pasted key'),
        ),
      ),
      h(
        'details',
        { class: 'new-key' },
        h('summary', {}, 'New member? Create a key in this browser'),
        h('p', { class: 'small muted' }, 'The private key is created here and cannot be exported. Give the public key it shows to the operator, who registers it under your id.'),
        h('div', { class: 'row' }, newId,
          h(
            'button',
            {
              type: 'button',
              testid: 'new-key',
              onclick: async () => {
                const id = newId.value.trim();
                if (!/^[A-Za-z0-9._:-]{1,64}$/.test(id)) return fail(new Error('the id must be 1–64 letters, digits or . _ : -'));
                try {
                  const s = await createBrowserKey(id);
                  await keyPanel(el, onChange, { who });
                  onChange(s);
                } catch (err) {
                  fail(err);
                }
              },
            },
            'Create key',
          ),
        ),
      ),
      msg,
    ),
  );
  return null;
}

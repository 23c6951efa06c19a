// The app's own dialogs (a modal <dialog>: focus stays inside, Escape cancels), instead of window.confirm().
import { h } from './dom.js';

let opened = 0;

/**
 * Ask the candidate to confirm something; resolves true for the confirm button, false for cancel or Escape.
 * `body` is a string or a list of strings and nodes; focus starts on the safer choice unless `focusConfirm`.
 */
export function confirmDialog({ title, body, confirm = 'OK', cancel = 'Cancel', danger = false, focusConfirm = false }) {
  opened += 1;
  const titleId = `dialog-title-${opened}`;
  const confirmButton = h('button', { type: 'button', class: danger ? 'danger' : null, value: 'confirm' }, confirm);
  const cancelButton = cancel ? h('button', { type: 'button', class: 'secondary', value: 'cancel' }, cancel) : null;
  const paragraphs = (Array.isArray(body) ? body : [body]).map((part) => (typeof part === 'string' ? h('p', {}, part) : part));
  const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, title),
    paragraphs,
    h('div', { class: 'actions' }, cancelButton, confirmButton));
  document.body.appendChild(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(dialog.returnValue === 'confirm');
    });
    confirmButton.addEventListener('click', () => dialog.close('confirm'));
    cancelButton?.addEventListener('click', () => dialog.close('cancel'));
    dialog.showModal();
    (focusConfirm || !cancelButton ? confirmButton : cancelButton).focus();
  });
}

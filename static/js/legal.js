// The privacy notice and the terms of use (static text, kept with the app so it works offline).
import { h } from './dom.js';

const PRIVACY = [
  ['What we store', 'Your email address, a hash of your password (never the password itself), the consents you gave and when, your purchases as confirmed by the App Store or Google Play, your assessments, your written answers, the transcripts of your speaking tests and your results.'],
  ['What we do not store', 'Recordings of your voice. Speaking audio is turned into text while you talk and then discarded.'],
  ['Why', 'To run the assessments you bought, to show your history and progress, and to keep your credits correct. Marketing emails are sent only if you asked for them.'],
  ['Where', 'On Amazon Web Services in the region nearest to you, encrypted at rest. Writing and speaking may be scored by Amazon Bedrock models in the same region.'],
  ['Your rights', 'From your profile you can download everything we store about you as a JSON file, and delete your account together with all your data at any time.'],
  ['Age', 'The service is for people aged 16 and over.'],
];

const TERMS = [
  ['The service', 'IELTS GenAI Prep offers practice assessments scored by artificial intelligence. Scores are estimates to guide your preparation; they are not official IELTS results.'],
  ['Accounts', 'You must be 16 or older and give a valid email address. Keep your password to yourself; you are responsible for activity on your account.'],
  ['Packs and credits', 'A pack costs USD 36 (or the local store price) and contains four assessments of one kind. Purchases are made through the App Store or Google Play and are subject to their refund rules. A refunded pack removes its unused credits.'],
  ['Fair use', 'Do not attempt to misuse the service, to access other accounts or to resell assessments.'],
  ['Deletion', 'You may delete your account at any time from your profile; unused credits are lost when you do.'],
];

/** The page for `which` ('privacy' or 'terms'). */
export function legalScreen(which) {
  const [title, sections] = which === 'privacy' ? ['Privacy notice', PRIVACY] : ['Terms of use', TERMS];
  return h('article', { class: 'card' }, h('h1', {}, title), sections.map(([heading, text]) => [h('h2', {}, heading), h('p', {}, text)]));
}

/** Messages the form can show; the query names one, so nothing from the request is echoed into the page. */
const ERRORS: Record<string, string> = {
  invalid: 'That API key is invalid or revoked.',
  not_admin: 'That API key does not have the admin scope.',
  throttled: 'Too many failed sign-ins; wait a few minutes and try again.',
};

/** The sign-in form of the admin UI: one password field, no script, styles inline. */
export function loginPage(opts: {
  error?: string | undefined;
  signedOut?: boolean;
  signedInAs?: string | undefined;
  boardPath: string;
}): string {
  const error = opts.error ? (ERRORS[opts.error] ?? 'Sign-in failed.') : undefined;
  const notice = error
    ? `<p class="error" role="alert">${error}</p>`
    : opts.signedOut
      ? '<p class="notice">Signed out.</p>'
      : opts.signedInAs !== undefined
        ? `<p class="notice">Signed in as ${escapeHtml(opts.signedInAs)}. <a href="${opts.boardPath}">Open the queues</a>.</p>`
        : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>agent-fleet admin · sign in</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1d2433; margin: 0; }
  main { max-width: 26rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 8px;
         box-shadow: 0 1px 3px rgba(0,0,0,.12); }
  h1 { font-size: 1.3rem; margin: 0 0 1rem; }
  label { display: block; font-weight: 600; margin-bottom: .4rem; }
  input { width: 100%; box-sizing: border-box; padding: .55rem .6rem; font: inherit; border: 1px solid #b8bfcc;
          border-radius: 4px; }
  button { display: block; margin-top: 1rem; padding: .55rem 1.2rem; font: inherit; border: 0; border-radius: 4px;
           background: #2f5fd0; color: #fff; cursor: pointer; }
  .error { color: #a11; } .notice { color: #2a6a2a; }
  small { display: block; margin-top: .4rem; color: #5b6475; }
  form.logout { margin-top: 1.5rem; } form.logout button { background: #6b7385; }
</style>
</head>
<body>
<main>
  <h1>agent-fleet admin</h1>
  ${notice}
  <form method="post" action="/admin/login">
    <label for="key">Admin API key</label>
    <input id="key" name="key" type="password" autocomplete="current-password" placeholder="fk_…" required autofocus>
    <small>A key with the <code>admin</code> scope (<code>fleet keys create --name NAME --scopes admin</code>).</small>
    <button type="submit">Sign in</button>
  </form>
  ${opts.signedInAs !== undefined ? '<form class="logout" method="post" action="/admin/logout"><button type="submit">Sign out</button></form>' : ''}
</main>
</body>
</html>
`;
}

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

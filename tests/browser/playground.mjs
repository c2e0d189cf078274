// The router's playground in a real browser, as a newcomer uses it (README, "The one query"):
// open http://localhost:4000/graphql, log in as the demo customer with the login mutation, put the
// token in the Headers tab, run the one query and see the customer's cart and orders.
//
// Headless Chromium from Debian, driven by playwright-core, with no internet: every request to
// another origin is refused and counted, so the page must work from the router's own assets
// (GRAPHIQL_ASSETS_DIR). Writes a screenshot to the path given.
//
// Usage: node tests/browser/playground.mjs <playground URL> <screenshot.png>
import { chromium } from 'playwright-core';

const [url = 'http://localhost:4000/graphql', screenshot = 'target/artifacts/playground.png'] =
  process.argv.slice(2);

const LOGIN = `mutation {
  login(email: "customer@example.com", password: "Customer123!") { accessToken }
}`;
const ONE_QUERY = `{
  me {
    id name email
    cart { items { quantity product { id name price stock } } subtotal }
    orders(first: 10) { totalCount nodes { id status total items { quantity product { name } } } }
  }
}`;

function fail(message) {
  console.error(`FAILED: ${message}`);
  process.exitCode = 1;
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking'],
});
const offOrigin = [];
const pageErrors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  const origin = new URL(url).origin;
  await page.route('**/*', (route) => {
    const target = route.request().url();
    if (target.startsWith(origin) || target.startsWith('data:')) return route.continue();
    offOrigin.push(target);
    return route.abort();
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));

  await page.goto(url);
  await page.waitForSelector('.graphiql-query-editor .CodeMirror', { timeout: 30_000 });

  // Runs `query` from the query editor and returns the text of the response pane once it changed.
  const run = async (query) => {
    await page.evaluate((q) => {
      document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(q);
    }, query);
    const before = await page.evaluate(
      () => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue() ?? '',
    );
    await page.click('button.graphiql-execute-button');
    await page.waitForFunction(
      (previous) => {
        const value = document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue();
        return value && value !== previous && value.trim().startsWith('{');
      },
      before,
      { timeout: 30_000 },
    );
    return page.evaluate(() =>
      document.querySelector('.result-window .CodeMirror').CodeMirror.getValue(),
    );
  };

  const login = JSON.parse(await run(LOGIN));
  const token = login?.data?.login?.accessToken;
  if (!token) throw new Error(`the login mutation gave no token: ${JSON.stringify(login)}`);

  // The Headers tab, as the README tells a newcomer.
  await page.getByRole('button', { name: 'Headers' }).click();
  const headersEditor = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
  await page.waitForSelector(headersEditor, { state: 'visible', timeout: 10_000 });
  await page.click(headersEditor);
  // Pasted, as a person would (typing would meet the editor's bracket auto-closing).
  await page.keyboard.insertText(JSON.stringify({ Authorization: `Bearer ${token}` }));
  const typed = await page.evaluate(
    (selector) => document.querySelector(selector).CodeMirror.getValue(),
    headersEditor,
  );
  if (!typed.includes(token)) throw new Error(`the Headers tab holds ${typed}`);

  const answer = JSON.parse(await run(ONE_QUERY));
  await page.screenshot({ path: screenshot, fullPage: true });

  const me = answer?.data?.me;
  if (answer.errors) fail(`the one query answered errors: ${JSON.stringify(answer.errors)}`);
  if (me?.email !== 'customer@example.com') fail(`me is not the demo customer: ${JSON.stringify(answer)}`);
  if (!(me?.cart?.items?.length > 0)) fail(`the demo customer's cart is empty: ${JSON.stringify(me)}`);
  if (!(me?.cart?.items ?? []).every((line) => line.product?.name)) {
    fail(`cart lines lack product names (from products): ${JSON.stringify(me?.cart)}`);
  }
  if (!(me?.orders?.totalCount >= 1)) fail(`the demo customer has no orders: ${JSON.stringify(me)}`);
  if (process.exitCode !== 1) {
    console.log(
      `ok: the playground ran the one query: ${me.name}, ${me.cart.items.length} cart lines, ` +
        `${me.orders.totalCount} order(s); screenshot ${screenshot}`,
    );
  }
} catch (error) {
  fail(error.stack || String(error));
} finally {
  await browser.close();
}
if (offOrigin.length) fail(`the page asked for other origins (it must work offline): ${offOrigin.join(', ')}`);
if (pageErrors.length) fail(`the page threw: ${pageErrors.join('; ')}`);

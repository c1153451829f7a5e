// Drives the spec's "Example Integration (Complete)" page in headless
// Chromium: waits for the ribbon, clicks the call button, follows the call
// to "connected", hangs up from the ribbon, and prints what happened as
// JSON on stdout. Usage: node ribbon.mjs <page url> <screenshot dir> [mode]
// mode "missing" sets a customer without the required fields instead.
import { chromium } from "playwright-core";

const [pageUrl, shots, mode = "call"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"],
});
const out = { console: [], errors: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 420 } });
  page.on("console", (m) => out.console.push({ type: m.type(), text: m.text() }));
  page.on("pageerror", (e) => out.errors.push(String(e)));
  const waitFor = (re, ms = 30000) =>
    page.waitForEvent("console", { predicate: (m) => re.test(m.text()), timeout: ms });
  const ready = waitFor(/Ribbon ready!/);
  await page.goto(pageUrl);
  await ready;
  if (mode === "missing") {
    const error = waitFor(/Call Event: error/);
    await page.evaluate(() => {
      IntalksAICallRibbon.setCustomer({ phoneNumber: "+919876543210" });
      IntalksAICallRibbon.makeCall();
    });
    await error;
    out.state = await page.locator(".sbr-state").textContent();
    out.message = await page.locator(".sbr-message").textContent();
  } else {
    const connected = waitFor(/Call Event: connected/);
    await page.getByRole("button", { name: "Call Rajesh Kumar" }).click();
    await connected;
    // Let the timer move, then look at the ribbon mid-call.
    await page.waitForFunction(() => document.querySelector(".sbr-timer").textContent !== "00:00", null, { timeout: 10000 });
    out.during = {
      name: await page.locator(".sbr-name").textContent(),
      phone: await page.locator(".sbr-phone").textContent(),
      state: await page.locator(".sbr-state").textContent(),
      timer: await page.locator(".sbr-timer").textContent(),
      hangupEnabled: await page.locator(".sbr-hangup").isEnabled(),
    };
    await page.screenshot({ path: `${shots}/ribbon-during-call.png` });
    const muted = waitFor(/Call Event: muted/);
    await page.locator(".sbr-mute").click();
    await muted;
    out.muteLabel = await page.locator(".sbr-mute").textContent();
    const ended = waitFor(/Call Event: callEnded/);
    await page.locator(".sbr-hangup").click();
    await ended;
    out.after = {
      state: await page.locator(".sbr-state").textContent(),
      timer: await page.locator(".sbr-timer").textContent(),
      callEnabled: await page.locator(".sbr-call").isEnabled(),
    };
    await page.screenshot({ path: `${shots}/ribbon-after-call.png` });
    out.crm = await page.evaluate(() => window.crmUpdates);
    out.sessionId = await page.evaluate(() => IntalksAICallRibbon.getState().call.session_id);
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));

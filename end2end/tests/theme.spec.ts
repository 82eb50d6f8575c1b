// Dark mode: the page follows the system's colour scheme, and the header's toggle
// chooses dark or light for good (kept in the browser, applied before the first paint of
// the next page), or the system's again.
import { test, expect, Page } from '@playwright/test';
import { open, watchErrors } from './support';

const background = (page: Page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
// The style sheet's --bg: #f6f7f9 light, #0d1117 dark.
const LIGHT = 'rgb(246, 247, 249)';
const DARK = 'rgb(13, 17, 23)';

test('the page follows the system, and the toggle chooses dark or light for good', async ({ page }) => {
  const errors = watchErrors(page);
  await page.emulateMedia({ colorScheme: 'dark' });
  await open(page, '/orchestrator');
  expect(await background(page)).toBe(DARK);
  await page.emulateMedia({ colorScheme: 'light' });
  expect(await background(page)).toBe(LIGHT);

  const toggle = page.getByTestId('theme-toggle');
  await expect(toggle).toHaveAccessibleName('Colour theme: System');
  await toggle.click();
  await expect(toggle).toHaveAccessibleName('Colour theme: Dark');
  expect(await background(page)).toBe(DARK);

  // Kept: the next page is dark from its first paint (only /theme.js sets the attribute
  // on a new page; the WASM merely reads the choice).
  await open(page, '/workflows');
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark');
  expect(await background(page)).toBe(DARK);
  await expect(page.getByTestId('theme-toggle')).toHaveAccessibleName('Colour theme: Dark');

  await page.getByTestId('theme-toggle').click();
  await expect(page.getByTestId('theme-toggle')).toHaveAccessibleName('Colour theme: Light');
  await page.emulateMedia({ colorScheme: 'dark' });
  expect(await background(page)).toBe(LIGHT);
  await page.getByTestId('theme-toggle').click();
  await expect(page.getByTestId('theme-toggle')).toHaveAccessibleName('Colour theme: System');
  await expect(page.locator('html')).not.toHaveAttribute('data-theme', /.+/);
  expect(await background(page)).toBe(DARK);
  await page.screenshot({ path: 'test-results/theme-dark.png', fullPage: true });
  expect(errors).toEqual([]);
});

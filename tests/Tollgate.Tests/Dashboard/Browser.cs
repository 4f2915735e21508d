using Microsoft.Playwright;

[assembly: AssemblyFixture(typeof(Tollgate.Tests.Dashboard.Browser))]

namespace Tollgate.Tests.Dashboard;

/// <summary>
/// One headless Chromium (Debian's, at /usr/bin/chromium) for the whole test run, driven by Playwright;
/// each test opens its own context, so cookies never leak between tests. The README's test command
/// installs Chromium when it is missing.
/// </summary>
public sealed class Browser : IAsyncLifetime
{
    public const string ExecutablePath = "/usr/bin/chromium";

    /// <summary>A laptop and a phone: every screenshot is taken at both.</summary>
    public static readonly (int Width, int Height)[] Viewports = [(1366, 768), (390, 844)];

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            return; // tests that need it fail with a clear message (see Chromium)
        }

        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ExecutablePath,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"],
        });
    }

    private IBrowser Chromium => _browser ?? throw new InvalidOperationException(
        $"Chromium is not installed at {ExecutablePath}: run ./test.sh, which installs it (apt-get install chromium).");

    /// <summary>A new browser context (its own cookies) and page at <paramref name="width"/>×<paramref name="height"/>.</summary>
    public async Task<IPage> NewPageAsync(Uri baseAddress, int width = 1366, int height = 768, ColorScheme scheme = ColorScheme.Light,
        bool javaScript = true)
    {
        var context = await Chromium.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = baseAddress.ToString().TrimEnd('/'),
            ViewportSize = new ViewportSize { Width = width, Height = height },
            ColorScheme = scheme,
            Permissions = ["clipboard-read", "clipboard-write"],
            JavaScriptEnabled = javaScript,
        });
        context.SetDefaultTimeout(30_000); // two cores shared with the rest of the suite
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.Console += (_, message) =>
        {
            // A CSP violation or a script error is a defect of the page.
            if (message.Type == "error")
            {
                lock (errors)
                {
                    errors.Add(message.Text);
                }
            }
        };
        ConsoleErrors.AddOrUpdate(page, errors);
        return page;
    }

    /// <summary>Errors the page's console printed (CSP violations, script errors, failed loads).</summary>
    internal static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IPage, List<string>> ConsoleErrors = [];

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}

using System.Net;
using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;
using Tollgate.Tests.Usage;

namespace Tollgate.Tests.Dashboard;

/// <summary>
/// Every page, with a week of realistic data, at a laptop's and a phone's size: each answers 200, prints no
/// console error (a CSP violation included), and fits the phone's width without scrolling sideways (wide tables
/// scroll inside their own box). The screenshots it saves are the ones committed in <c>docs/screenshots/</c>.
/// </summary>
public sealed class ScreenshotTourTests(Browser browser) : IDisposable
{
    private readonly TollgateFactory _tollgate = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    [Fact]
    public async Task EveryPage_AtBothSizes_Answers_WithoutErrors_AndFitsThePhone()
    {
        var (owner, member, keys, records) = await SeedAsync();
        var page = await browser.NewPageAsync(_tollgate.Address);

        // Signed out.
        await VisitAsync(page, "signin", "/signin");
        await VisitAsync(page, "signup-closed", "/signup");

        await DashboardUsers.SignInAsync(page, owner.Email);
        var tour = new (string Name, string Path)[]
        {
            ("overview", "/"),
            ("usage", "/usage"),
            ("usage-by-key", "/usage?group=key&metric=requests"),
            ("usage-call", $"/usage/{records.MaxBy(r => r.CreatedAt)!.GenerationId}"),
            ("keys", "/settings/keys"),
            ("keys-new", "/settings/keys/new"),
            ("key", $"/settings/keys/{keys[0].Id}"),
            ("key-delete", $"/settings/keys/{keys[2].Id}/delete"),
            ("account", "/settings/account"),
            ("credits", "/credits"),
            ("models", "/models"),
            ("playground", "/playground"),
            ("playground-replay", $"/playground?replay={records[0].GenerationId}"),
            ("admin-accounts", "/admin/accounts"),
            ("admin-account", $"/admin/accounts/{member.Id}"),
            ("admin-credits", "/admin/credits"),
            ("admin-providers", "/admin/providers"),
            ("admin-audit", "/admin/audit"),
        };
        foreach (var (name, path) in tour)
        {
            await VisitAsync(page, name, path);
        }

        var dark = await browser.NewPageAsync(_tollgate.Address, scheme: ColorScheme.Dark);
        await DashboardUsers.SignInAsync(dark, owner.Email);
        await VisitAsync(dark, "overview-dark", "/");
        await VisitAsync(dark, "usage-dark", "/usage");
        await VisitAsync(dark, "credits-dark", "/credits");
    }

    /// <summary>The innermost elements reaching past the window's right edge, for the failure message.</summary>
    private const string WidestElements = """
        () => [...document.querySelectorAll('body *')]
          .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
          .filter(e => ![...e.children].some(c => c.getBoundingClientRect().right > window.innerWidth + 1))
          .slice(0, 5)
          .map(e => e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ').join('.') : '') + ' ' + Math.round(e.getBoundingClientRect().right))
        """;

    private static async Task VisitAsync(IPage page, string name, string path)
    {
        foreach (var (width, height) in Browser.Viewports)
        {
            await page.SetViewportSizeAsync(width, height);
            var response = await page.GotoAsync(path);
            Assert.True(response is { Status: 200 }, $"{path} answered {response?.Status}");
            await Screenshots.SaveAsync(page, name);
            var overflow = await page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
            if (overflow > 0)
            {
                var wide = await page.EvaluateAsync<string[]>(WidestElements);
                Assert.Fail($"{path} at {width}px scrolls sideways by {overflow}px: {string.Join(", ", wide)}");
            }
        }

        var errors = Browser.ConsoleErrors.TryGetValue(page, out var printed) ? printed : [];
        Assert.True(errors.Count == 0, $"{path}: {string.Join("; ", errors)}");
    }

    private async Task<(Account Owner, Account Member, List<ApiKey> Keys, UsageRecord[] Records)> SeedAsync()
    {
        var owner = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Owner, "ada@example.com");
        owner = await _tollgate.Service<AccountService>().UpdateProfileAsync(owner, "Ada Lovelace", "Europe/London", Ct);
        await _tollgate.Service<CreditLedger>().GrantAsync(owner.Id, Money.ToNanos(50m), "test", null, "starter credits", Ct);
        var member = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Member, "grace@example.com");
        await _tollgate.Service<CreditGrants>().GrantAsync(owner, member, Money.ToNanos(10m), "welcome credit", null, Ct);
        await _tollgate.Service<AccountService>().SetRoleAsync(owner, member.Id, AccountRole.Admin, Ct);
        await _tollgate.Service<AccountService>().SetRoleAsync(owner, member.Id, AccountRole.Member, Ct);
        await _tollgate.Service<InviteService>().CreateAsync(owner, "linus@example.com", AccountRole.Member, TimeSpan.FromDays(7), Ct);
        var keys = new List<ApiKey>();
        foreach (var (name, settings) in new[]
        {
            ("production backend", """ "limit":25,"limit_reset":"monthly" """),
            ("cline (laptop)", """ "limit":5 """),
            ("nightly evals", """ "expires_at":"2027-06-30T00:00:00Z" """),
        })
        {
            keys.Add((await _tollgate.CreateKeyAsync(owner.Id, $$"""{"name":"{{name}}",{{settings}}}""")).Key);
        }

        var random = new Random(7);
        var models = new[] { ("anthropic/claude-sonnet-4-6", 0.02m), ("openai/gpt-4o-mini", 0.002m), ("demo/echo", 0.0001m) };
        var apps = new[] { "Cline", "Support Bot", "Evals", null };
        var records = Enumerable.Range(0, 400).Select(i =>
        {
            var (model, cost) = models[random.Next(models.Length)];
            return UsageTestData.Record(keys[random.Next(keys.Count)], DateTimeOffset.UtcNow.AddMinutes(-random.Next(7 * 24 * 60)),
                cost * (decimal)(0.5 + random.NextDouble()), model, random.Next(200, 4000), random.Next(20, 900)) with
            {
                AppTitle = apps[random.Next(apps.Length)],
                HttpReferer = random.Next(3) == 0 ? "https://support.example.com" : null,
                Streamed = random.Next(2) == 0,
                LatencyMs = random.Next(300, 9000),
                FirstTokenMs = random.Next(120, 900),
            };
        }).ToArray();
        await _tollgate.WriteUsageAsync(records);

        // A real call too, so the latest row is one the gateway wrote itself.
        var (_, secret) = await _tollgate.CreateKeyAsync(owner.Id, """{"name":"playground test"}""");
        using var api = _tollgate.Client(secret);
        using var chat = await api.PostAsync("/api/v1/chat/completions",
            Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"Hello!"}]}"""), Ct);
        Assert.Equal(HttpStatusCode.OK, chat.StatusCode);
        return (owner, member, keys, records);
    }
}

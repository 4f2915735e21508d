using System.Net;
using Microsoft.Playwright;
using Tollgate.Accounts;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;
using Tollgate.Tests.Usage;

namespace Tollgate.Tests.Dashboard;

/// <summary>
/// Credits, Models and Admin › Providers in a real browser: the ledger is paged with a cursor (every line once), filtered,
/// and never another account's; a model without prices is "unpriced", never $0; the providers page shows the circuit
/// state and never a secret.
/// </summary>
public sealed class CreditsModelsProvidersPagesTests(Browser browser) : IDisposable
{
    private const string UpstreamKey = "sk-upstream-never-shown-4242";

    private readonly TollgateFactory _tollgate = new(new Dictionary<string, string?>
    {
        ["Tollgate:Providers:upstream:Type"] = "openai",
        ["Tollgate:Providers:upstream:BaseUrl"] = "http://operator:hunter2@127.0.0.1:9/v1?token=querysecret",
        ["Tollgate:Providers:upstream:ApiKey"] = UpstreamKey,
        ["Tollgate:Providers:upstream:ConnectTimeout"] = "00:00:02",
        ["Tollgate:Models:0:Id"] = "local/free",
        ["Tollgate:Models:0:Deployments:0:Provider"] = "demo",
        ["Tollgate:Models:0:Deployments:0:Model"] = "echo",
        ["Tollgate:Models:1:Id"] = "up/gpt",
        ["Tollgate:Models:1:Name"] = "Upstream GPT",
        ["Tollgate:Models:1:Pricing:Prompt"] = "0.0000025",
        ["Tollgate:Models:1:Pricing:Completion"] = "0.00001",
        ["Tollgate:Models:1:Deployments:0:Provider"] = "upstream",
        ["Tollgate:Models:1:Deployments:0:Model"] = "gpt-4o",
        ["Tollgate:Gateway:MaxAttemptsPerModel"] = "1",
        ["Tollgate:Gateway:BreakerMinimumThroughput"] = "2",
    });

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    [Fact]
    public async Task Ledger_IsPagedWithACursor_EveryLineOnce_FilteredByKind_AndOnlyTheAccountsOwn()
    {
        var account = await DashboardUsers.CreateAsync(_tollgate);
        await _tollgate.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(20m), "test", null, "starter pack", Ct);
        var (key, _) = await _tollgate.CreateKeyAsync(account.Id, """{"name":"batch job"}""");
        var records = Enumerable.Range(0, 60).Select(i => UsageTestData.Record(key, DateTimeOffset.UtcNow.AddMinutes(-i), 0.01m)).ToArray();
        await _tollgate.WriteUsageAsync(records);
        var other = await DashboardUsers.CreateAsync(_tollgate);
        await _tollgate.Service<CreditLedger>().GrantAsync(other.Id, Money.ToNanos(3m), "test", null, "someone else's note", Ct);
        var expected = await _tollgate.Service<IBillingStore>().ListLedgerAsync(account.Id, LedgerFilter.All, null, 500, Ct);

        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, account.Email);
        await page.GotoAsync("/credits");
        var seen = new List<string>();
        while (true)
        {
            var ids = await page.Locator("[data-testid=ledger] tbody tr[data-ledger-id]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.ledgerId)");
            Assert.InRange(ids.Length, 1, 50);
            seen.AddRange(ids);
            Assert.DoesNotContain("someone else's note", await page.ContentAsync(), StringComparison.Ordinal);
            var older = page.GetByRole(AriaRole.Link, new() { Name = "Older lines" });
            if (await older.CountAsync() == 0)
            {
                break;
            }

            await older.ClickAsync();
        }

        Assert.Equal(expected.Select(e => e.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)), seen);
        Assert.True(seen.Count > 60);

        // A charge names its key and opens its call.
        await page.GotoAsync("/credits?kind=charges");
        var first = page.Locator("[data-testid=ledger] tbody tr").First;
        Assert.Contains("batch job", await first.TextContentAsync(), StringComparison.Ordinal);
        Assert.Contains("-$0.01", await first.TextContentAsync(), StringComparison.Ordinal);
        await first.GetByRole(AriaRole.Link).ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("/usage/gen-", StringComparison.Ordinal));

        await page.GotoAsync("/credits?kind=credits");
        var rows = await page.Locator("[data-testid=ledger] tbody tr").AllTextContentsAsync();
        Assert.All(rows, row => Assert.DoesNotContain("Charge", row, StringComparison.Ordinal));
        Assert.Contains(rows, row => row.Contains("starter pack", StringComparison.Ordinal));

        using var client = await DashboardUsers.SignedInClientAsync(_tollgate, account.Email);
        using var bad = await client.GetAsync("/credits?before=not-a-number", Ct);
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Models_ShowPricesPerTokenAndPerMillion_AnUnpricedModelIsNeverZero_AndSearchFilters()
    {
        var account = await DashboardUsers.CreateAsync(_tollgate);
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, account.Email);
        await page.GotoAsync("/models");

        var priced = page.Locator("tr[data-model='up/gpt']");
        Assert.Equal("$2.50 / 1M$0.0000025 / token", Squash(await priced.Locator("[data-price=prompt]").TextContentAsync()));
        Assert.Equal("$10.00 / 1M$0.00001 / token", Squash(await priced.Locator("[data-price=completion]").TextContentAsync()));
        var free = page.Locator("tr[data-model='local/free']");
        Assert.Equal("unpriced", Squash(await free.Locator("[data-price=unpriced]").TextContentAsync()));
        Assert.DoesNotContain("$0", await free.TextContentAsync(), StringComparison.Ordinal);
        Assert.Contains("$1.00", await page.Locator("tr[data-model='demo/echo']").TextContentAsync(), StringComparison.Ordinal);

        await page.GetByLabel("Search").FillAsync("upstream gpt");
        await page.GetByRole(AriaRole.Button, new() { Name = "Search" }).ClickAsync();
        await page.WaitForURLAsync(url => url.Contains("q=", StringComparison.Ordinal));
        Assert.Equal(["up/gpt"], await page.Locator("[data-testid=models-table] tbody tr[data-model]").EvaluateAllAsync<string[]>("rows => rows.map(r => r.dataset.model)"));
        await page.GotoAsync("/models?q=nothing-like-this");
        Assert.Contains("No model matches", await page.GetByTestId("models-table").TextContentAsync(), StringComparison.Ordinal);

        // "Try" opens the playground on that model.
        await page.GotoAsync("/models");
        await priced.GetByRole(AriaRole.Link, new() { Name = "Try" }).ClickAsync();
        Assert.Equal("up/gpt", await page.GetByLabel("Model").InputValueAsync());
    }

    [Fact]
    public async Task Providers_ShowTheCircuitOpeningOnFailures_AndNeverASecret()
    {
        var owner = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Owner);
        var page = await browser.NewPageAsync(_tollgate.Address);
        await DashboardUsers.SignInAsync(page, owner.Email);
        await page.GotoAsync("/admin/providers");
        var card = page.Locator("[data-provider=upstream]");
        Assert.Contains("http://127.0.0.1:9/v1", await card.TextContentAsync(), StringComparison.Ordinal);
        Assert.Contains("API key configured", await card.TextContentAsync(), StringComparison.Ordinal);
        Assert.Equal("closed", await card.GetByTestId("circuit").TextContentAsync());

        // Nothing listens on port 9: the calls fail, and the circuit opens.
        await _tollgate.Service<CreditLedger>().GrantAsync(owner.Id, Money.ToNanos(5m), "test", null, null, Ct);
        var (_, secret) = await _tollgate.CreateKeyAsync(owner.Id);
        using var api = _tollgate.Client(secret);
        for (var i = 0; i < 3; i++)
        {
            using var failed = await api.PostAsync("/api/v1/chat/completions",
                Json.Body("""{"model":"up/gpt","messages":[{"role":"user","content":"hi"}],"max_tokens":5}"""), Ct);
            Assert.True((int)failed.StatusCode >= 500, failed.StatusCode.ToString());
        }

        await page.ReloadAsync();
        Assert.Equal("open", await card.GetByTestId("circuit").TextContentAsync());
        var html = await page.ContentAsync();
        foreach (var secretPart in new[] { UpstreamKey, "hunter2", "operator", "querysecret" })
        {
            Assert.DoesNotContain(secretPart, html, StringComparison.Ordinal);
        }
    }

    private static string Squash(string? text) => string.Join(' ', (text ?? "").Split((char[])[' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries))
        .Replace(" / 1M $", " / 1M$", StringComparison.Ordinal);
}

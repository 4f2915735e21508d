using System.Text.Json;
using Tollgate.Credits;
using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// Calls that outlive <c>Tollgate:Credits:ReservationTimeout</c> (5 seconds here): the sweeper may only free
/// the reservations of requests that are gone, and a long answer is charged whatever its length.
/// </summary>
public sealed class LongCallAttacks(LongCallFixture fixture) : IClassFixture<LongCallFixture>
{
    private static readonly long Cent = Money.ToNanos(0.01m);

    // Issue 9, item 3
    [Fact]
    public async Task LongStream_ThirtySecondsOnAFiveSecondTimeout_IsDeliveredWholeAndChargedOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        fixture.Fake.Options.Scenarios["long"] = new Scenario { Chunks = 30, ChunkGap = TimeSpan.FromSeconds(1) };
        var (accountId, secret) = await fixture.AccountAsync(1m);
        using var client = fixture.Tollgate.Client(secret);

        var answer = await StreamAsync(client, ct);

        Assert.True(answer.Done, "the answer did not end with the usage chunk and [DONE]: " + answer.Last);
        Assert.Equal(string.Join(' ', Enumerable.Range(1, 30).Select(i => $"w{i}")), answer.Text);
        Assert.Equal(30 * LongCallFixture.CompletionPrice, answer.Cost);
        var (records, cost) = LedgerAudit.Charges(fixture.Tollgate, accountId);
        Assert.Equal(1, records);
        Assert.Equal(Money.ToNanos(answer.Cost), cost);
        await LedgerAudit.AssertBooksBalanceAsync(fixture.Tollgate, accountId);
    }

    // Issue 9, item 3 (concurrency of 50)
    [Fact]
    public async Task LongStreams_FiftyAtOnceOutlivingTheTimeout_AreEachChargedOnce()
    {
        var ct = TestContext.Current.CancellationToken;
        fixture.Fake.Options.Scenarios["long"] = new Scenario { Chunks = 12, ChunkGap = TimeSpan.FromSeconds(1) };
        var (accountId, secret) = await fixture.AccountAsync(1m);
        using var client = fixture.Tollgate.Client(secret);

        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => Task.Run(() => StreamAsync(client, ct), ct)));

        var cut = answers.Where(a => !a.Done).ToArray();
        Assert.True(cut.Length == 0, $"{cut.Length} of 50 answers did not end with the usage chunk and [DONE], e.g. {cut.FirstOrDefault()?.Last}");
        Assert.All(answers, answer => Assert.Equal(12 * LongCallFixture.CompletionPrice, answer.Cost));
        var (records, cost) = LedgerAudit.Charges(fixture.Tollgate, accountId);
        Assert.Equal(50, records);
        Assert.Equal(Money.ToNanos(answers.Sum(a => a.Cost)), cost);
        await LedgerAudit.AssertBooksBalanceAsync(fixture.Tollgate, accountId);
    }

    // Issue 9, item 3
    [Fact]
    public async Task Sweeper_HungRequestWhoseClientLeft_IsReleasedButALiveOneIsNot()
    {
        var ct = TestContext.Current.CancellationToken;
        var (accountId, _, key) = await fixture.AccountAndKeyAsync(1m);
        var ledger = fixture.Tollgate.Service<CreditLedger>();
        using var liveClient = new CancellationTokenSource();
        using var leftClient = new CancellationTokenSource();
        var live = await ledger.ReserveAsync(key, Cent, (_, _) => "refused", liveClient.Token);
        var hung = await ledger.ReserveAsync(key, 2 * Cent, (_, _) => "refused", leftClient.Token);

        // The client of one request leaves; its handler hangs and never settles or releases.
        await leftClient.CancelAsync();
        for (var waited = 0; waited < 150 && !hung.IsClosed; waited++)
        {
            await Task.Delay(100, ct);
        }

        Assert.True(hung.IsClosed, "the reservation of a request whose client left was never released");
        Assert.False(live.IsClosed, "the reservation of a request still connected was released");
        Assert.Equal(Cent, ledger.ReservedFor(accountId));

        await ledger.SettleAsync(live, Usage(live, Cent / 2));
        Assert.Equal((1, Cent / 2), LedgerAudit.Charges(fixture.Tollgate, accountId));
        await LedgerAudit.AssertBooksBalanceAsync(fixture.Tollgate, accountId);
    }

    // Issue 9, item 3
    [Fact]
    public async Task Settle_AfterTheSweeperReleasedTheReservation_StillCharges()
    {
        var ct = TestContext.Current.CancellationToken;
        var (accountId, _, key) = await fixture.AccountAndKeyAsync(1m);
        var ledger = fixture.Tollgate.Service<CreditLedger>();
        using var client = new CancellationTokenSource();
        var reservation = await ledger.ReserveAsync(key, Cent, (_, _) => "refused", client.Token);

        // The client left while its answer was being finished, and the handler was slow to settle.
        await client.CancelAsync();
        for (var waited = 0; waited < 150 && !reservation.IsClosed; waited++)
        {
            await Task.Delay(100, ct);
        }

        Assert.True(reservation.IsClosed);
        await ledger.SettleAsync(reservation, Usage(reservation, Cent / 2));

        Assert.Equal((1, Cent / 2), LedgerAudit.Charges(fixture.Tollgate, accountId));
        Assert.Equal(0, ledger.ReservedFor(accountId));
        Assert.Equal(Money.ToNanos(1m) - Cent / 2, await LedgerAudit.AssertBooksBalanceAsync(fixture.Tollgate, accountId));
        await Assert.ThrowsAsync<InvalidOperationException>(() => ledger.SettleAsync(reservation, Usage(reservation, Cent / 2)));
    }

    private sealed record StreamedAnswer(bool Done, string Text, decimal Cost, string Last);

    private static async Task<StreamedAnswer> StreamAsync(HttpClient client, CancellationToken ct)
    {
        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(
            """{"model":"fake/long","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"take your time"}]}"""), ct);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        var answer = await SseAnswer.ReadAsync(response, ct);
        var chunks = answer.Chunks;
        var last = chunks.Count > 0 ? chunks[^1] : default;
        var cost = last.ValueKind == JsonValueKind.Object && last.TryGetProperty("usage", out var usage) ? usage.GetProperty("cost").GetDecimal() : 0m;
        return new StreamedAnswer(answer.EndsWithDone && cost > 0, answer.Text, cost, answer.Data.Count > 0 ? answer.Data[^1] : "(nothing)");
    }

    private static UsageRecord Usage(Reservation reservation, long cost) => new()
    {
        GenerationId = $"gen-{Guid.NewGuid():N}",
        AccountId = reservation.AccountId,
        KeyId = reservation.KeyId,
        Model = "fake/long",
        CompletionTokens = 50,
        CostNanos = cost,
        Status = 200,
        Streamed = true,
        CreatedAt = DateTimeOffset.UtcNow,
    };
}

/// <summary>The fake upstream and a Tollgate whose reservations time out after 5 seconds; <c>fake/long</c> costs $0.0001 per completion token.</summary>
public sealed class LongCallFixture : IAsyncLifetime
{
    public const decimal CompletionPrice = 0.0001m;

    internal FakeUpstreamServer Fake { get; private set; } = null!;

    public TollgateFactory Tollgate { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Fake = await FakeUpstreamServer.StartAsync(new FakeUpstreamOptions { RecordRequests = false });
        Tollgate = new TollgateFactory(new Dictionary<string, string?>
        {
            ["Tollgate:Credits:InitialCredits"] = "0",
            ["Tollgate:Credits:ReservationTimeout"] = "00:00:05",
            ["Tollgate:Providers:fakeai:Type"] = "openai",
            ["Tollgate:Providers:fakeai:BaseUrl"] = Fake.BaseAddress.ToString().TrimEnd('/') + "/v1",
            ["Tollgate:Gateway:MaxAttemptsPerModel"] = "1",
            ["Tollgate:Models:0:Id"] = "fake/long",
            ["Tollgate:Models:0:MaxCompletionTokens"] = "1000",
            ["Tollgate:Models:0:Pricing:Prompt"] = "0",
            ["Tollgate:Models:0:Pricing:Completion"] = CompletionPrice.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tollgate:Models:0:Deployments:0:Provider"] = "fakeai",
            ["Tollgate:Models:0:Deployments:0:Model"] = "long",
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Microsoft"] = "Warning",
        });
        Tollgate.StartServer();
    }

    /// <summary>An account holding <paramref name="usd"/>, and a key for it.</summary>
    internal async Task<(string AccountId, string Secret)> AccountAsync(decimal usd)
    {
        var (accountId, secret, _) = await AccountAndKeyAsync(usd);
        return (accountId, secret);
    }

    internal async Task<(string AccountId, string Secret, Tollgate.ApiKeys.ApiKey Key)> AccountAndKeyAsync(decimal usd)
    {
        var account = await Tollgate.CreateAccountAsync();
        await Tollgate.Service<CreditLedger>().GrantAsync(account.Id, Money.ToNanos(usd), "test", null, null, CancellationToken.None);
        var (key, secret) = await Tollgate.CreateKeyAsync(account.Id);
        return (account.Id, secret, key);
    }

    public async ValueTask DisposeAsync()
    {
        await Tollgate.DisposeAsync();
        await Fake.DisposeAsync();
    }
}

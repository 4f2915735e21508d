using System.Net;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Cluster;

/// <summary>
/// Several Tollgate instances on one PostgreSQL: the single-instance guarantees hold across them. Real processes, a real
/// database, and one instance killed with SIGKILL in the middle of the load.
/// </summary>
[Collection(nameof(ClusterTests))]
[CollectionDefinition(nameof(ClusterTests), DisableParallelization = true)] // each starts several servers on two cores
public sealed class ClusterTests
{
    [Fact]
    public async Task Overspend_TwoHundredConcurrentCallsOnCreditForTwenty_OneInstanceKilled_NoBalanceBelowZeroAndHoldsAddUp()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await ClusterFixture.StartAsync(processes: 2);
        var (accountId, secret, _) = await cluster.AccountAsync(0.20m); // 20 holds of $0.01
        var addresses = cluster.Addresses;
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 400 }) { Timeout = TimeSpan.FromSeconds(60) };
        var random = new Random(13);
        var admitted = 0;
        var completed = 0;

        var calls = Enumerable.Range(0, 200).Select(async i =>
        {
            var cutAfter = random.Next(3) == 0 ? TimeSpan.FromMilliseconds(random.Next(50, 600)) : (TimeSpan?)null;
            using var cut = CancellationTokenSource.CreateLinkedTokenSource(ct);
            try
            {
                using var response = await http.SendAsync(ClusterFixture.Chat(addresses[i % addresses.Count], secret, "fake/cent-slow", stream: true),
                    HttpCompletionOption.ResponseHeadersRead, cut.Token);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
                    return;
                }

                Interlocked.Increment(ref admitted);
                if (cutAfter is { } after)
                {
                    cut.CancelAfter(after); // the client leaves mid-stream
                }

                var body = await response.Content.ReadAsStringAsync(cut.Token);
                if (body.Contains("[DONE]", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref completed);
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or HttpRequestException or IOException)
            {
                // Cut by the client, or by the instance being killed.
            }
        }).ToArray();

        await Task.Delay(400, ct);
        await cluster.Remote[^1].Server.KillAsync(); // mid-run: its streams die, its holds stay behind
        await Task.WhenAll(calls);

        Assert.InRange(admitted, 1, 20);
        Assert.True(completed > 0, "some calls ran to the end");

        // The killed instance's holds: settled by the sweeper at their amount once it is taken as stopped, and flagged.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (cluster.Scalar("SELECT COUNT(*) FROM credit_holds WHERE account_id = @a", ("@a", accountId)) > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200, ct);
        }

        Assert.Equal(0, cluster.Scalar("SELECT COUNT(*) FROM credit_holds WHERE account_id = @a", ("@a", accountId)));
        var balance = cluster.Scalar("SELECT balance_nanos FROM balances WHERE account_id = @a", ("@a", accountId));
        Assert.InRange(balance, 0, 200_000_000);
        Assert.Equal(0, cluster.Scalar("SELECT held_nanos FROM balances WHERE account_id = @a", ("@a", accountId)));
        Assert.Equal(balance, cluster.Scalar("SELECT SUM(amount_nanos) FROM ledger WHERE account_id = @a", ("@a", accountId)));

        // No charge lost or doubled: every generation is charged at most once, and every call that ran to the end is charged.
        Assert.Equal(0, cluster.Scalar(
            "SELECT COUNT(*) FROM (SELECT reference FROM ledger WHERE kind = 'charge' AND account_id = @a GROUP BY reference HAVING COUNT(*) > 1) d",
            ("@a", accountId)));
        Assert.True(cluster.Scalar("SELECT COUNT(*) FROM ledger WHERE kind = 'charge' AND account_id = @a AND actor = 'gateway'", ("@a", accountId))
            >= completed);
        var flagged = cluster.Scalar("SELECT COUNT(*) FROM expired_holds WHERE account_id = @a", ("@a", accountId));
        Assert.Equal(flagged, cluster.Scalar("SELECT COUNT(*) FROM ledger WHERE account_id = @a AND actor = 'sweeper'", ("@a", accountId)));
    }

    [Fact]
    public async Task Revocation_KeyDeletedThroughOneInstance_EveryInstanceRefusesItWhenTheDeleteReturns()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await ClusterFixture.StartAsync(processes: 2);
        var (accountId, secret, key) = await cluster.AccountAsync(5m);
        using var http = new HttpClient();

        // Every instance has the key cached.
        foreach (var address in cluster.Addresses)
        {
            using var warm = await http.SendAsync(ClusterFixture.Chat(address, secret, "fake/cent", stream: false), ct);
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        // Hammered on every instance while the delete runs: nothing that starts after it returned may succeed.
        using var stop = new CancellationTokenSource();
        var deletedAt = long.MaxValue;
        var lateSuccesses = 0;
        var hammer = cluster.Addresses.Select(address => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = System.Diagnostics.Stopwatch.GetTimestamp();
                using var response = await http.SendAsync(ClusterFixture.Chat(address, secret, "fake/cent", stream: false), CancellationToken.None);
                if (response.StatusCode == HttpStatusCode.OK && started > Interlocked.Read(ref deletedAt))
                {
                    Interlocked.Increment(ref lateSuccesses);
                }
            }
        })).ToArray();

        await Task.Delay(300, ct);
        await cluster.Local.Service<Tollgate.ApiKeys.ApiKeyService>().DeleteAsync(accountId, null, key.Id, ct);
        Interlocked.Exchange(ref deletedAt, System.Diagnostics.Stopwatch.GetTimestamp());
        foreach (var address in cluster.Addresses)
        {
            using var after = await http.SendAsync(ClusterFixture.Chat(address, secret, "fake/cent", stream: false), ct);
            Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        }

        await Task.Delay(500, ct);
        await stop.CancelAsync();
        await Task.WhenAll(hammer);
        Assert.Equal(0, lateSuccesses);
    }

    [Fact]
    public async Task Sessions_SignedInThroughOneInstance_TheDashboardWorksOnAnother()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = await ClusterFixture.StartAsync(processes: 1);
        var user = await Dashboard.DashboardUsers.CreateAsync(cluster.Local);
        var cookies = new CookieContainer();
        using (var signIn = Dashboard.DashboardUsers.CookieClient(cluster.Local, cookies))
        {
            var token = await Dashboard.DashboardUsers.FormTokenAsync(signIn, "/signin");
            using var signedIn = await signIn.PostAsync("/signin", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__csrf"] = token, ["email"] = user.Email, ["password"] = Dashboard.DashboardUsers.Password,
            }), ct);
            Assert.Equal(HttpStatusCode.Redirect, signedIn.StatusCode);
        }

        // The other instance (another process, the same host: cookies do not depend on the port) reads the session cookie.
        var other = cluster.Remote[0].Address;
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = other };
        using var keys = await client.GetAsync("/settings/keys", ct);
        Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
        Assert.Contains(user.Email, await keys.Content.ReadAsStringAsync(ct), StringComparison.OrdinalIgnoreCase);

        // Its forms too: a token issued by this process's instance passes the other's anti-forgery check (one key ring).
        using var local = Dashboard.DashboardUsers.CookieClient(cluster.Local, cookies);
        var form = await Dashboard.DashboardUsers.FormTokenAsync(local, "/settings/keys");
        using var checkedThere = await client.PostAsync("/settings/keys?handler=Check", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__csrf"] = form, ["secret"] = "sk-tg-v1-not-a-key",
        }), ct);
        Assert.Equal(HttpStatusCode.OK, checkedThere.StatusCode);

        // Without the cookie, that instance sends the browser to sign in.
        using var anonymous = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = other };
        using var refused = await anonymous.GetAsync("/settings/keys", ct);
        Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
    }

    [Fact]
    public async Task Migrations_InstancesStartingTogether_ApplyEachScriptOnce()
    {
        await using var cluster = await ClusterFixture.StartAsync(processes: 3);
        var scripts = new Tollgate.Storage.MigrationRunner("postgres", Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance).LoadScripts();
        Assert.Equal(scripts.Count, cluster.Scalar("SELECT COUNT(*) FROM schema_migrations"));
        Assert.Equal(4, cluster.Scalar("SELECT COUNT(*) FROM instances"));
        foreach (var address in cluster.Addresses)
        {
            using var http = new HttpClient();
            using var ready = await http.GetAsync(new Uri(address, "/readyz"), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }
    }
}

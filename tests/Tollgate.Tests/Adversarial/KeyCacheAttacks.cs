using System.Net;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// Filling the key cache with more distinct keys than it holds: the cache stays bounded, drops
/// what expired or was least used, keeps caching new keys, and a revocation is still seen by the
/// very next request.
/// </summary>
public sealed class KeyCacheAttacks
{
    private const int Bound = 8;

    private static CancellationToken Cancel => TestContext.Current.CancellationToken;

    private static TollgateFactory SmallCache() => new(new()
    {
        ["Tollgate:ApiKeys:CacheMaxEntries"] = Bound.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Tollgate:ApiKeys:CacheTtl"] = "00:00:01",
    });

    /// <summary>Uses each key once, 50 at a time.</summary>
    private static async Task UseEachOnceAsync(TollgateFactory tollgate, IEnumerable<string> secrets)
    {
        var responses = await Task.WhenAll(secrets.Select(async secret =>
        {
            using var client = tollgate.Client(secret);
            using var response = await client.GetAsync("/api/v1/key", Cancel);
            return response.StatusCode;
        }));
        Assert.All(responses, status => Assert.Equal(HttpStatusCode.OK, status));
    }

    /// <summary>Uses the key until a use is answered without a storage lookup; false if that never happens.</summary>
    private static async Task<bool> IsServedFromCacheAsync(TollgateFactory tollgate, HttpClient client)
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var lookups = tollgate.CountingStore!.SecretLookups;
            using var response = await client.GetAsync("/api/v1/key", Cancel);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            if (tollgate.CountingStore.SecretLookups == lookups)
            {
                return true;
            }

            await Task.Delay(50, Cancel); // room is made in the background
        }

        return false;
    }

    // Issue 9, item 15: past CacheMaxEntries distinct keys, nothing new was ever cached again.
    [Fact]
    public async Task KeyCache_MoreDistinctKeysThanItHolds_CachesNewKeysOnceTheOldOnesExpire()
    {
        using var tollgate = SmallCache();
        var account = await tollgate.CreateAccountAsync();
        var flood = new List<string>();
        for (var i = 0; i < Bound * 3; i++)
        {
            flood.Add((await tollgate.CreateKeyAsync(account.Id, $$"""{"name":"flood {{i}}"}""")).Secret);
        }

        await UseEachOnceAsync(tollgate, flood);
        Assert.True(tollgate.Service<ApiKeyCache>().Count <= Bound);
        await Task.Delay(TimeSpan.FromSeconds(1.5), Cancel); // every flooded entry is now past its TTL

        var (fresh, freshSecret) = await tollgate.CreateKeyAsync(account.Id, """{"name":"fresh"}""");
        using var client = tollgate.Client(freshSecret);
        Assert.True(await IsServedFromCacheAsync(tollgate, client), "a new key is never cached once the cache has been full");

        // The cached key is still revoked at once.
        using var admin = tollgate.Client(flood[0]);
        using var delete = await admin.DeleteAsync($"/api/v1/api-keys/{fresh.Id}", Cancel);
        Assert.Equal(HttpStatusCode.OK, delete.StatusCode);
        using var refused = await client.GetAsync("/api/v1/key", Cancel);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.True(tollgate.Service<ApiKeyCache>().Count <= Bound);
    }

    // Issue 9, item 15: one account's keys filling the cache must not stop it caching everyone else's.
    [Fact]
    public async Task KeyCache_FilledWithLiveKeys_StillCachesANewKey()
    {
        using var tollgate = new TollgateFactory(new()
        {
            ["Tollgate:ApiKeys:CacheMaxEntries"] = Bound.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Tollgate:ApiKeys:CacheTtl"] = "00:10:00",
        });
        var attacker = await tollgate.CreateAccountAsync();
        var flood = new List<string>();
        for (var i = 0; i < Bound * 3; i++)
        {
            flood.Add((await tollgate.CreateKeyAsync(attacker.Id, $$"""{"name":"flood {{i}}"}""")).Secret);
        }

        await UseEachOnceAsync(tollgate, flood);
        var victim = await tollgate.CreateAccountAsync();
        var (victimKey, victimSecret) = await tollgate.CreateKeyAsync(victim.Id);
        using var client = tollgate.Client(victimSecret);

        Assert.True(await IsServedFromCacheAsync(tollgate, client), "a full cache never takes a new key");
        Assert.True(tollgate.Service<ApiKeyCache>().Count <= Bound);

        // A disable through the API is seen by the very next request, cache or not.
        using var self = await client.PatchAsync($"/api/v1/api-keys/{victimKey.Id}", Json.Body("""{"disabled":true}"""), Cancel);
        Assert.Equal(HttpStatusCode.OK, self.StatusCode);
        using var refused = await client.GetAsync("/api/v1/key", Cancel);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }
}

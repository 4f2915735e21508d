using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Tollgate.ApiKeys;

namespace Tollgate.Tests.ApiKeys;

public sealed class ApiKeyCacheTests : IDisposable
{
    private readonly FakeTimeProvider _time = new();
    private readonly ApiKeyCache _cache;

    public ApiKeyCacheTests() =>
        _cache = new ApiKeyCache(_time, Options.Create(new ApiKeyOptions { CacheTtl = TimeSpan.FromSeconds(60), CacheMaxEntries = 3 }));

    public void Dispose() => _cache.Dispose();

    private static ApiKeyMatch Match(string id) => new(new ApiKey
    {
        Id = id,
        AccountId = "acc_1",
        Name = "n",
        Label = "l",
        Scopes = ApiKeyScopes.All,
        CreatedAt = DateTimeOffset.UnixEpoch,
    }, null);

    [Fact]
    public void TryGet_AfterAdd_ReturnsTheKeyUntilTheTtlPasses()
    {
        _cache.Add("h1", Match("key_1"), _cache.Version);

        Assert.True(_cache.TryGet("h1", out var hit));
        Assert.Equal("key_1", hit.Key.Id);

        _time.Advance(TimeSpan.FromSeconds(61));
        Assert.False(_cache.TryGet("h1", out _));
    }

    [Fact]
    public void Evict_RemovesEverySecretOfTheKey()
    {
        _cache.Add("current", Match("key_1"), _cache.Version);
        _cache.Add("previous", Match("key_1"), _cache.Version);
        _cache.Add("other", Match("key_2"), _cache.Version);

        _cache.Evict("key_1");

        Assert.False(_cache.TryGet("current", out _));
        Assert.False(_cache.TryGet("previous", out _));
        Assert.True(_cache.TryGet("other", out _));
    }

    [Fact]
    public void Add_WithVersionReadBeforeAnEviction_DoesNotCacheTheStaleKey()
    {
        // A lookup reads storage, then the key is deleted and evicted, then the lookup finishes.
        var versionBeforeLookup = _cache.Version;
        _cache.Evict("key_1");

        _cache.Add("h1", Match("key_1"), versionBeforeLookup);

        Assert.False(_cache.TryGet("h1", out _));
    }

    [Fact]
    public void Add_WhenFull_NeverHoldsMoreThanTheBound()
    {
        for (var i = 0; i < 4; i++)
        {
            _cache.Add($"h{i}", Match($"key_{i}"), _cache.Version);
        }

        Assert.True(_cache.Count <= 3);
        Assert.False(_cache.TryGet("h3", out _));
    }

    [Fact]
    public async Task Add_WhenFullOfExpiredEntries_CachesNewKeysAgain()
    {
        for (var i = 0; i < 3; i++)
        {
            _cache.Add($"old{i}", Match($"key_{i}"), _cache.Version);
        }

        _time.Advance(TimeSpan.FromSeconds(61));

        // The first add past the bound makes room in the background; a later one is cached.
        var cached = false;
        for (var attempt = 0; attempt < 100 && !cached; attempt++)
        {
            _cache.Add("new", Match("key_new"), _cache.Version);
            cached = _cache.TryGet("new", out _);
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.True(cached);
        Assert.True(_cache.Count <= 3);
    }

    [Fact]
    public async Task Add_WhenFullOfLiveEntries_MakesRoomByDroppingTheLeastRecentlyUsed()
    {
        for (var i = 0; i < 3; i++)
        {
            _cache.Add($"h{i}", Match($"key_{i}"), _cache.Version);
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.True(_cache.TryGet("h0", out _)); // h1 is now the least recently used

        var cached = false;
        for (var attempt = 0; attempt < 100 && !cached; attempt++)
        {
            _cache.Add("new", Match("key_new"), _cache.Version);
            cached = _cache.TryGet("new", out _);
            await Task.Delay(20, TestContext.Current.CancellationToken);
        }

        Assert.True(cached);
        Assert.True(_cache.TryGet("h0", out _));
        Assert.False(_cache.TryGet("h1", out _));
    }

    [Fact]
    public void Cache_WithZeroMaxEntries_CachesNothing()
    {
        using var off = new ApiKeyCache(_time, Options.Create(new ApiKeyOptions { CacheMaxEntries = 0 }));

        off.Add("h1", Match("key_1"), off.Version);

        Assert.False(off.TryGet("h1", out _));
    }
}

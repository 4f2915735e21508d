using System.Net;
using Tollgate.Http;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

/// <summary>The recent-calls list through <see cref="UsageService.GetCallsAsync"/>: keyset paging, filters, cursors and limits.</summary>
public sealed class UsageCallsTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Noon = new(2026, 5, 13, 12, 0, 0, TimeSpan.Zero);
    private UsageDatabase _db = null!;
    private string _key = null!;

    public async ValueTask InitializeAsync()
    {
        _db = await UsageDatabase.CreateAsync();
        _key = await _db.AddKeyAsync("main");
    }

    public ValueTask DisposeAsync()
    {
        _db.Dispose();
        return ValueTask.CompletedTask;
    }

    private Task<UsageCallsResult> PageAsync(UsageCallFilter? filter = null, string? cursor = null, int limit = UsageService.DefaultPageSize) =>
        _db.Service.GetCallsAsync(UsageDatabase.AccountId, filter ?? new UsageCallFilter(), cursor, limit, CancellationToken.None);

    private async Task<List<string>> AllPagesAsync(UsageCallFilter filter, int limit)
    {
        var ids = new List<string>();
        string? cursor = null;
        do
        {
            var page = await PageAsync(filter, cursor, limit);
            Assert.True(page.Calls.Count <= limit);
            ids.AddRange(page.Calls.Select(c => c.Record.GenerationId));
            cursor = page.NextCursor;
            Assert.True(cursor is null || page.Calls.Count == limit, "only the last page may be short");
        }
        while (cursor is not null);

        return ids;
    }

    [Fact]
    public async Task Calls_ManyWithTheSameMillisecond_EachComesExactlyOnceAcrossPages()
    {
        var calls = Enumerable.Range(0, 23).Select(_ => _db.Call(_key, Noon)).ToList();
        calls.Add(_db.Call(_key, Noon.AddMilliseconds(1)));
        calls.Add(_db.Call(_key, Noon.AddMilliseconds(-1)));
        await _db.WriteAsync([.. calls]);

        var ids = await AllPagesAsync(new UsageCallFilter(), limit: 4);

        var expected = calls.OrderByDescending(c => c.CreatedAt).ThenByDescending(c => c.GenerationId, StringComparer.Ordinal)
            .Select(c => c.GenerationId);
        Assert.Equal(expected, ids);
    }

    [Fact]
    public async Task Calls_FirstPage_NewestFirstWithKeyNameAndEveryField()
    {
        var older = _db.Call(_key, Noon.AddMinutes(-5));
        var newer = _db.Call(_key, Noon) with
        {
            AppTitle = "Cline",
            HttpReferer = "https://cline.bot",
            Streamed = true,
            FirstTokenMs = 42,
            TaskId = "task-1",
            Unpriced = true,
            CostNanos = 0,
        };
        await _db.WriteAsync(older, newer);

        var page = await PageAsync();

        Assert.Equal([newer.GenerationId, older.GenerationId], page.Calls.Select(c => c.Record.GenerationId));
        Assert.Equal(newer, page.Calls[0].Record);
        Assert.Equal("main", page.Calls[0].KeyName);
        Assert.Null(page.NextCursor);
    }

    [Fact]
    public async Task Calls_FiltersCombine_OnlyCallsMatchingAllOfThem()
    {
        var ci = await _db.AddKeyAsync("ci");
        var match = _db.Call(ci, Noon, "m/a") with { AppTitle = "Cline" };
        await _db.WriteAsync(
            match,
            _db.Call(ci, Noon.AddMinutes(1), "m/a") with { AppTitle = "cline" },          // app titles match exactly
            _db.Call(ci, Noon.AddMinutes(2), "m/b") with { AppTitle = "Cline" },          // other model
            _db.Call(_key, Noon.AddMinutes(3), "m/a") with { AppTitle = "Cline" },        // other key
            _db.Call(ci, Noon.AddHours(2), "m/a") with { AppTitle = "Cline" },            // after the range
            _db.Call(ci, Noon.AddHours(-2), "m/a") with { AppTitle = "Cline" });          // before it

        var page = await PageAsync(new UsageCallFilter(ci, "m/a", "Cline", Noon.AddHours(-1), Noon.AddHours(1)));
        var byKeyOnly = await PageAsync(new UsageCallFilter(KeyId: ci));
        var byAppOnly = await PageAsync(new UsageCallFilter(App: "Cline"));

        Assert.Equal([match.GenerationId], page.Calls.Select(c => c.Record.GenerationId));
        Assert.Equal(5, byKeyOnly.Calls.Count);
        Assert.Equal(5, byAppOnly.Calls.Count);
    }

    [Fact]
    public async Task Calls_FromInclusiveToExclusive_BoundsAreExact()
    {
        var atFrom = _db.Call(_key, Noon);
        var atTo = _db.Call(_key, Noon.AddHours(1));
        await _db.WriteAsync(atFrom, atTo);

        var page = await PageAsync(new UsageCallFilter(From: Noon, To: Noon.AddHours(1)));

        Assert.Equal([atFrom.GenerationId], page.Calls.Select(c => c.Record.GenerationId));
    }

    [Fact]
    public async Task Calls_FilteredPagesWithSameTimes_EachMatchingCallOnce()
    {
        var calls = Enumerable.Range(0, 30).Select(i => _db.Call(_key, Noon.AddSeconds(i % 3), i % 2 == 0 ? "m/even" : "m/odd")).ToList();
        await _db.WriteAsync([.. calls]);

        var ids = await AllPagesAsync(new UsageCallFilter(Model: "m/even"), limit: 4);

        Assert.Equal(calls.Where(c => c.Model == "m/even").OrderByDescending(c => c.CreatedAt).ThenByDescending(c => c.GenerationId, StringComparer.Ordinal)
            .Select(c => c.GenerationId), ids);
    }

    [Fact]
    public async Task Calls_AnotherAccountsCalls_AreNeverListed()
    {
        await _db.AddAccountAsync("acc_other");
        var foreignKey = await _db.AddKeyAsync("theirs", "acc_other");
        var mine = _db.Call(_key, Noon);
        await _db.WriteAsync(mine, _db.Call(foreignKey, Noon.AddMinutes(1), accountId: "acc_other"));

        var all = await PageAsync();
        var theirKey = await PageAsync(new UsageCallFilter(KeyId: foreignKey));

        Assert.Equal([mine.GenerationId], all.Calls.Select(c => c.Record.GenerationId));
        Assert.Empty(theirKey.Calls);
    }

    [Fact]
    public async Task Calls_NewCallsArriveWhilePaging_TheOlderPagesStayWhole()
    {
        var calls = Enumerable.Range(0, 6).Select(i => _db.Call(_key, Noon.AddSeconds(i))).ToList();
        await _db.WriteAsync([.. calls]);
        var first = await PageAsync(limit: 3);

        await _db.WriteAsync(_db.Call(_key, Noon.AddHours(1)));
        var second = await PageAsync(cursor: first.NextCursor, limit: 3);

        Assert.Equal(calls.Take(3).Reverse().Select(c => c.GenerationId), second.Calls.Select(c => c.Record.GenerationId));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(201)]
    public async Task Calls_LimitOutOfBounds_Is400NamingLimit(int limit)
    {
        var exception = await Assert.ThrowsAsync<ApiException>(() => PageAsync(limit: limit));

        Assert.Equal((int)HttpStatusCode.BadRequest, exception.StatusCode);
        Assert.Equal("limit", exception.Metadata["param"]);
    }

    [Fact]
    public async Task Calls_LimitAtTheBounds_AreAccepted()
    {
        await _db.WriteAsync([.. Enumerable.Range(0, 201).Select(i => _db.Call(_key, Noon.AddSeconds(i)))]);

        Assert.Single((await PageAsync(limit: 1)).Calls);
        Assert.Equal(200, (await PageAsync(limit: 200)).Calls.Count);
        Assert.Equal(50, (await PageAsync()).Calls.Count);
    }

    [Theory]
    [InlineData("x")]
    [InlineData("not a cursor")]
    [InlineData("AQAAAZ4mW2Q")]
    [InlineData("////////////////////////")]
    public async Task Calls_CursorThatWasNeverIssued_Is400NamingCursor(string cursor)
    {
        var exception = await Assert.ThrowsAsync<ApiException>(() => PageAsync(cursor: cursor));

        Assert.Equal((int)HttpStatusCode.BadRequest, exception.StatusCode);
        Assert.Equal("cursor", exception.Metadata["param"]);
    }

    [Fact]
    public async Task Calls_EveryOneCharacterChangeOfACursor_Is400NamingCursor()
    {
        await _db.WriteAsync([.. Enumerable.Range(0, 3).Select(i => _db.Call(_key, Noon.AddSeconds(i)))]);
        var cursor = (await PageAsync(limit: 1)).NextCursor!;
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

        for (var i = 0; i < cursor.Length; i++)
        {
            var replacement = alphabet[(alphabet.IndexOf(cursor[i], StringComparison.Ordinal) + 1) % alphabet.Length];
            var tampered = cursor[..i] + replacement + cursor[(i + 1)..];
            var exception = await Assert.ThrowsAsync<ApiException>(() => PageAsync(cursor: tampered));
            Assert.Equal("cursor", exception.Metadata["param"]);
        }

        await Assert.ThrowsAsync<ApiException>(() => PageAsync(cursor: cursor[..^1]));
        await Assert.ThrowsAsync<ApiException>(() => PageAsync(cursor: cursor + "A"));
        Assert.Single((await PageAsync(cursor: cursor, limit: 1)).Calls);
    }

    [Theory]
    [InlineData("key_id")]
    [InlineData("model")]
    [InlineData("app")]
    [InlineData("from")]
    public async Task Calls_BadFilter_Is400NamingIt(string param)
    {
        var filter = param switch
        {
            "key_id" => new UsageCallFilter(KeyId: new string('k', UsageService.MaxKeyIdLength + 1)),
            "model" => new UsageCallFilter(Model: ""),
            "app" => new UsageCallFilter(App: new string('a', UsageService.MaxAppLength + 1)),
            _ => new UsageCallFilter(From: Noon, To: Noon.AddTicks(-1)),
        };

        var exception = await Assert.ThrowsAsync<ApiException>(() => PageAsync(filter));

        Assert.Equal(param, exception.Metadata["param"]);
    }

    [Fact]
    public async Task DataThrough_TheNewestCallOfTheAccount()
    {
        Assert.Null(await _db.Service.GetDataThroughAsync(UsageDatabase.AccountId, CancellationToken.None));
        await _db.WriteAsync(_db.Call(_key, Noon), _db.Call(_key, Noon.AddMinutes(-3)));

        Assert.Equal(Noon, await _db.Service.GetDataThroughAsync(UsageDatabase.AccountId, CancellationToken.None));
    }
}

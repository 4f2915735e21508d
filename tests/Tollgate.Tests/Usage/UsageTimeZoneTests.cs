using System.Net;
using Tollgate.Http;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

/// <summary>
/// Charts count calls per local day of the account's zone, read from the 15-minute rollups: the day boundaries of
/// zones far from UTC, of quarter-hour offsets and of DST changes.
/// </summary>
public sealed class UsageTimeZoneTests : IAsyncLifetime
{
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

    private static DateTimeOffset Local(TimeZoneInfo zone, int year, int month, int day, int hour, int minute)
    {
        var local = new DateTime(year, month, day, hour, minute, 0, DateTimeKind.Unspecified);
        return new DateTimeOffset(local, zone.GetUtcOffset(local));
    }

    private Task<UsageSeries> SeriesAsync(DateOnly from, DateOnly to, TimeZoneInfo zone, UsageSeriesGrouping groupBy = UsageSeriesGrouping.Model) =>
        _db.Service.GetSeriesAsync(UsageDatabase.AccountId, from, to, zone, groupBy, CancellationToken.None);

    [Theory]
    [InlineData("Asia/Kolkata")]       // +05:30
    [InlineData("Asia/Kathmandu")]     // +05:45
    [InlineData("Pacific/Kiritimati")] // +14:00: its day starts at 10:00 UTC the day before
    [InlineData("Pacific/Pago_Pago")]  // -11:00: its day ends at 11:00 UTC the day after
    [InlineData("America/New_York")]
    [InlineData("UTC")]
    public async Task Series_CallsTenMinutesEitherSideOfLocalMidnight_LandOnTheirOwnLocalDays(string zoneId)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(zoneId);
        var late = Local(zone, 2026, 5, 1, 23, 50);
        var early = Local(zone, 2026, 5, 2, 0, 10);
        await _db.WriteAsync(_db.Call(_key, late, costNanos: 1_000), _db.Call(_key, early, costNanos: 20_000));

        var series = await SeriesAsync(new DateOnly(2026, 4, 30), new DateOnly(2026, 5, 3), zone);

        Assert.Equal([0L, 1L, 1L, 0L], series.Days.Select(d => d.Totals.Requests));
        Assert.Equal([0L, 1_000L, 20_000L, 0L], series.Days.Select(d => d.Totals.CostNanos));
        Assert.Equal(Local(zone, 2026, 5, 2, 0, 0), series.Days[2].Start);
        Assert.Equal(TimeSpan.FromHours(24), series.Days[1].End - series.Days[1].Start);
        Assert.Equal(2, series.Totals.Requests);
        Assert.Equal(early, series.DataThrough);
    }

    [Fact]
    public async Task Series_SameCallsInTwoZones_CountOnTheDayOfEachZone()
    {
        // 20:00 UTC on 1 May is 01:30 on 2 May in Kolkata and 09:00 on 1 May in Pago Pago.
        await _db.WriteAsync(_db.Call(_key, new DateTimeOffset(2026, 5, 1, 20, 0, 0, TimeSpan.Zero)));
        var days = (new DateOnly(2026, 5, 1), new DateOnly(2026, 5, 2));

        var utc = await SeriesAsync(days.Item1, days.Item2, TimeZoneInfo.Utc);
        var kolkata = await SeriesAsync(days.Item1, days.Item2, TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata"));
        var pagoPago = await SeriesAsync(days.Item1, days.Item2, TimeZoneInfo.FindSystemTimeZoneById("Pacific/Pago_Pago"));

        Assert.Equal([1L, 0L], utc.Days.Select(d => d.Totals.Requests));
        Assert.Equal([0L, 1L], kolkata.Days.Select(d => d.Totals.Requests));
        Assert.Equal([1L, 0L], pagoPago.Days.Select(d => d.Totals.Requests));
    }

    [Theory]
    [InlineData(3, 7, 96, 92, 96)]   // 8 March 2026: clocks go from 02:00 to 03:00, a 23-hour day
    [InlineData(10, 31, 96, 100, 96)] // 1 November 2026: 02:00 back to 01:00, a 25-hour day
    public async Task Series_NewYorkAroundADstChange_EachDayHoldsItsOwnHours(int month, int firstDay, int before, int change, int after)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        var from = new DateOnly(2026, month, firstDay);
        var start = Local(zone, 2026, month, firstDay, 0, 0);
        var end = UsageTime.DayStart(from.AddDays(3), zone);
        var calls = new List<Tollgate.Credits.UsageRecord>();
        for (var at = start.AddMinutes(7); at < end; at = at.AddMinutes(15))
        {
            calls.Add(_db.Call(_key, at, costNanos: 10));
        }

        await _db.WriteAsync([.. calls]);

        var series = await SeriesAsync(from, from.AddDays(2), zone);

        Assert.Equal([(long)before, change, after], series.Days.Select(d => d.Totals.Requests));
        Assert.Equal([24.0, change / 4.0, 24.0], series.Days.Select(d => (d.End - d.Start).TotalHours));
        Assert.Equal(calls.Count * 10L, series.Totals.CostNanos);
    }

    [Fact]
    public async Task Series_BothHalvesOfTheRepeatedHour_CountOnTheFallBackDay()
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById("America/New_York");
        var firstPass = new DateTimeOffset(2026, 11, 1, 1, 30, 0, TimeSpan.FromHours(-4));  // 01:30 EDT
        var secondPass = new DateTimeOffset(2026, 11, 1, 1, 30, 0, TimeSpan.FromHours(-5)); // 01:30 EST, an hour later
        var nextDay = new DateTimeOffset(2026, 11, 2, 0, 5, 0, TimeSpan.FromHours(-5));
        await _db.WriteAsync(_db.Call(_key, firstPass), _db.Call(_key, secondPass), _db.Call(_key, nextDay));

        var series = await SeriesAsync(new DateOnly(2026, 10, 31), new DateOnly(2026, 11, 2), zone);

        Assert.Equal([0L, 2L, 1L], series.Days.Select(d => d.Totals.Requests));
    }

    [Fact]
    public void DayStart_ZoneWhoseMidnightDoesNotExist_IsTheMomentTheDayBegins()
    {
        // Chile moves its clocks from 24:00 on Saturday 5 September 2026 to 01:00 on Sunday: Sunday begins at 04:00 UTC.
        var santiago = TimeZoneInfo.FindSystemTimeZoneById("America/Santiago");

        Assert.Equal(new DateTimeOffset(2026, 9, 6, 4, 0, 0, TimeSpan.Zero), UsageTime.DayStart(new DateOnly(2026, 9, 6), santiago));
        Assert.Equal(new DateTimeOffset(2026, 9, 5, 4, 0, 0, TimeSpan.Zero), UsageTime.DayStart(new DateOnly(2026, 9, 5), santiago));
        Assert.Equal(new DateTimeOffset(2026, 9, 7, 3, 0, 0, TimeSpan.Zero), UsageTime.DayStart(new DateOnly(2026, 9, 7), santiago));
    }

    [Theory]
    [InlineData("Asia/Kathmandu", "2026-05-01T18:15:00Z")]
    [InlineData("Pacific/Kiritimati", "2026-05-01T10:00:00Z")]
    [InlineData("Pacific/Pago_Pago", "2026-05-02T11:00:00Z")]
    [InlineData("UTC", "2026-05-02T00:00:00Z")]
    public void DayStart_FarFromUtc_IsLocalMidnightAsAnInstant(string zoneId, string expected)
    {
        var start = UsageTime.DayStart(new DateOnly(2026, 5, 2), TimeZoneInfo.FindSystemTimeZoneById(zoneId));

        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), start);
    }

    [Fact]
    public async Task Series_ByKeyWithUnpricedCalls_GroupsCarryNamesAndUnpricedCounts()
    {
        var other = await _db.AddKeyAsync("ci");
        var day = new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
        await _db.WriteAsync(
            _db.Call(_key, day, "paid/model", costNanos: 5_000),
            _db.Call(_key, day.AddMinutes(1), "free/model", costNanos: 0) with { Unpriced = true },
            _db.Call(other, day.AddMinutes(2), "free/model", costNanos: 0) with { Unpriced = true });

        var byKey = await SeriesAsync(new DateOnly(2026, 6, 1), new DateOnly(2026, 6, 1), TimeZoneInfo.Utc, UsageSeriesGrouping.Key);
        var byModel = await SeriesAsync(new DateOnly(2026, 6, 1), new DateOnly(2026, 6, 1), TimeZoneInfo.Utc, UsageSeriesGrouping.Model);

        Assert.Equal([("main", 2L, 1L, 5_000L), ("ci", 1L, 1L, 0L)],
            byKey.Groups.Select(g => (g.Label, g.Totals.Requests, g.Totals.UnpricedRequests, g.Totals.CostNanos)));
        Assert.Equal([("paid/model", false), ("free/model", true)], byModel.Groups.Select(g => (g.Id, g.Totals.IsUnpriced)));
        Assert.Equal(2, byModel.Totals.UnpricedRequests);
        Assert.True(byModel.Totals.HasUnpriced);
        Assert.False(byModel.Totals.IsUnpriced);
        Assert.Equal(byKey.Totals, byModel.Totals);
    }

    [Fact]
    public async Task Series_TwoKeysWithTheSameName_LabelsTellThemApart()
    {
        var twin = await _db.AddKeyAsync("main");
        var at = new DateTimeOffset(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);
        await _db.WriteAsync(_db.Call(_key, at, costNanos: 2), _db.Call(twin, at, costNanos: 1));

        var series = await SeriesAsync(new DateOnly(2026, 6, 1), new DateOnly(2026, 6, 1), TimeZoneInfo.Utc, UsageSeriesGrouping.Key);

        Assert.Equal([$"main ({_key})", $"main ({twin})"], series.Groups.Select(g => g.Label));
    }

    [Fact]
    public async Task Series_NoCalls_EveryDayIsThereWithZeros()
    {
        var series = await SeriesAsync(new DateOnly(2026, 2, 1), new DateOnly(2026, 2, 28), TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata"));

        Assert.Equal(28, series.Days.Count);
        Assert.All(series.Days, d => Assert.Equal(UsageTotals.Zero, d.Totals));
        Assert.Empty(series.Groups);
        Assert.Null(series.DataThrough);
    }

    [Theory]
    [InlineData("2026-01-01", "2027-02-05", "to")]   // 400 days after from: 401 days in all, one too many
    [InlineData("2026-05-02", "2026-05-01", "from")]
    [InlineData("1969-12-31", "1970-01-05", "from")]
    public async Task Series_RangeOutOfBounds_Is400NamingTheField(string from, string to, string param)
    {
        var exception = await Assert.ThrowsAsync<ApiException>(() =>
            SeriesAsync(DateOnly.Parse(from, System.Globalization.CultureInfo.InvariantCulture),
                DateOnly.Parse(to, System.Globalization.CultureInfo.InvariantCulture), TimeZoneInfo.Utc));

        Assert.Equal((int)HttpStatusCode.BadRequest, exception.StatusCode);
        Assert.Equal(param, exception.Metadata["param"]);
    }

    [Fact]
    public async Task Series_FourHundredDays_IsAccepted()
    {
        var series = await SeriesAsync(new DateOnly(2026, 1, 1), new DateOnly(2027, 2, 4), TimeZoneInfo.FindSystemTimeZoneById("America/New_York"));

        Assert.Equal(UsageService.MaxSeriesDays, series.Days.Count);
    }

    [Fact]
    public async Task FilterChoices_LocalDayRange_OffersWhatWasUsedMostUsedFirst()
    {
        var ci = await _db.AddKeyAsync("ci");
        var zone = TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata");
        await _db.WriteAsync(
            _db.Call(_key, Local(zone, 2026, 5, 1, 0, 5), "a/one") with { AppTitle = "Cline" },
            _db.Call(ci, Local(zone, 2026, 5, 1, 23, 55), "b/two") with { AppTitle = "Cline" },
            _db.Call(ci, Local(zone, 2026, 5, 1, 12, 0), "b/two"),
            _db.Call(_key, Local(zone, 2026, 5, 2, 0, 5), "c/outside") with { AppTitle = "Elsewhere" });

        var choices = await _db.Service.GetFilterChoicesAsync(UsageDatabase.AccountId, new DateOnly(2026, 5, 1), new DateOnly(2026, 5, 1), zone,
            CancellationToken.None);

        Assert.Equal([("b/two", 2L), ("a/one", 1L)], choices.Models.Select(c => (c.Value, c.Requests)));
        Assert.Equal([(ci, "ci", 2L), (_key, "main", 1L)], choices.Keys.Select(c => (c.Value, c.Label, c.Requests)));
        Assert.Equal([("Cline", 2L)], choices.Apps.Select(c => (c.Value, c.Requests)));
    }
}

using System.Collections.ObjectModel;
using Tollgate.Http;

namespace Tollgate.Usage;

/// <summary>What the recent-calls list is filtered by: every part optional, combined with AND; <see cref="From"/> inclusive, <see cref="To"/> exclusive.</summary>
internal sealed record UsageCallFilter(string? KeyId = null, string? Model = null, string? App = null, DateTimeOffset? From = null,
    DateTimeOffset? To = null);

/// <summary>A page of calls, newest first, and the cursor of the next page (null: this was the last).</summary>
internal sealed record UsageCallsResult(IReadOnlyList<UsageCall> Calls, string? NextCursor);

/// <summary>
/// Usage per local day of <see cref="TimeZone"/> from <see cref="From"/> to <see cref="To"/> (inclusive), by model,
/// key or app. <see cref="Days"/> has every day of the range, those without calls included; <see cref="Groups"/>
/// every group with calls in the range, most expensive first (then most requests, then by id).
/// </summary>
internal sealed record UsageSeries(
    DateOnly From,
    DateOnly To,
    TimeZoneInfo TimeZone,
    UsageSeriesGrouping GroupBy,
    IReadOnlyList<UsageSeriesGroup> Groups,
    IReadOnlyList<UsageSeriesDay> Days,
    UsageTotals Totals,
    DateTimeOffset? DataThrough);

/// <summary>A group of a series: the model id, key id or app title (<c>""</c>: calls without one), what to call it, and its totals over the range.</summary>
internal sealed record UsageSeriesGroup(string Id, string Label, UsageTotals Totals);

/// <summary>
/// One local day: its calls are those from <see cref="Start"/> up to <see cref="End"/> (23 or 25 hours apart on a DST
/// change); <see cref="ByGroup"/> has the groups with calls that day, by <see cref="UsageSeriesGroup.Id"/>.
/// </summary>
internal sealed record UsageSeriesDay(DateOnly Day, DateTimeOffset Start, DateTimeOffset End, UsageTotals Totals,
    IReadOnlyDictionary<string, UsageTotals> ByGroup);

/// <summary>How an export ended: the rows written, and whether it stopped at <see cref="UsageService.MaxExportRows"/> with more to go.</summary>
internal sealed record UsageExport(int Rows, bool Truncated);

/// <summary>
/// The usage read side that the API and the dashboard share: recent calls (paged with an opaque cursor), charts per
/// local day of the account's time zone, filter choices, "data through" and the CSV export. Every parameter a client
/// controls is checked here, each bad one a 400 naming it (<see cref="ApiException"/>), so the API and the pages
/// answer alike.
/// </summary>
internal sealed class UsageService(IUsageStore store)
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 200;

    /// <summary>The longest series, in days (a year and a month, with room for a leap day).</summary>
    public const int MaxSeriesDays = 400;

    /// <summary>The most rows one CSV export writes; past it the export stops (<see cref="UsageExport.Truncated"/>).</summary>
    public const int MaxExportRows = 100_000;

    /// <summary>The most models, keys and apps each that <see cref="GetFilterChoicesAsync"/> offers.</summary>
    public const int MaxChoices = 100;

    public const int MaxKeyIdLength = 100;
    public const int MaxModelLength = 200;
    public const int MaxAppLength = 512;

    /// <summary>Rows per query while exporting: each page is a short read, so no export holds a read transaction open.</summary>
    private const int ExportPageSize = 1000;

    /// <summary>Dates a series may cover: zone arithmetic stays far from the ends of <see cref="DateTime"/>.</summary>
    private static readonly DateOnly FirstDate = new(1970, 1, 2);
    private static readonly DateOnly LastDate = new(9998, 12, 31);

    /// <summary>
    /// A page of the account's calls matching <paramref name="filter"/>, newest first, starting after
    /// <paramref name="cursor"/> (null: the newest). 400s name <c>limit</c>, <c>cursor</c>, <c>key_id</c>,
    /// <c>model</c>, <c>app</c> or <c>from</c>.
    /// </summary>
    public async Task<UsageCallsResult> GetCallsAsync(string accountId, UsageCallFilter filter, string? cursor, int limit,
        CancellationToken cancellationToken)
    {
        if (limit is < 1 or > MaxPageSize)
        {
            throw ApiException.BadRequest($"limit must be between 1 and {MaxPageSize}", "limit");
        }

        UsageCallPosition? after = null;
        if (cursor is not null)
        {
            after = UsageCursor.TryDecode(cursor, out var position)
                ? position
                : throw ApiException.BadRequest("cursor is not a cursor this API returned (pass next_cursor as it came)", "cursor");
        }

        var page = await store.GetCallsAsync(Query(accountId, filter, after, limit), cancellationToken);
        return new UsageCallsResult(page.Calls, page.Next is { } next ? UsageCursor.Encode(next) : null);
    }

    /// <summary>
    /// Requests, tokens, cost and unpriced calls per local day of <paramref name="zone"/>, per group, read from the
    /// 15-minute rollups. At most <see cref="MaxSeriesDays"/> days: a 400 names <c>from</c> (after <c>to</c>, or out of
    /// range) or <c>to</c> (too far after <c>from</c>).
    /// </summary>
    public async Task<UsageSeries> GetSeriesAsync(string accountId, DateOnly from, DateOnly to, TimeZoneInfo zone, UsageSeriesGrouping groupBy,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(zone);
        CheckDays(from, to);
        var count = to.DayNumber - from.DayNumber + 1;
        var starts = new long[count + 1];
        for (var i = 0; i <= count; i++)
        {
            starts[i] = UsageTime.DayStartBucket(from.AddDays(i), zone);
        }

        var rows = await store.GetSeriesRowsAsync(accountId, groupBy, starts, cancellationToken);
        var dataThrough = await store.GetNewestCallAsync(accountId, cancellationToken);

        var byDay = new Dictionary<string, UsageTotals>?[count];
        var groupTotals = new Dictionary<string, (string? Name, UsageTotals Totals)>(StringComparer.Ordinal);
        foreach (var row in rows)
        {
            (byDay[row.Day] ??= new Dictionary<string, UsageTotals>(StringComparer.Ordinal))[row.Group] = row.Totals;
            groupTotals[row.Group] = groupTotals.TryGetValue(row.Group, out var seen)
                ? (seen.Name ?? row.Name, seen.Totals.Add(row.Totals))
                : (row.Name, row.Totals);
        }

        var days = new UsageSeriesDay[count];
        var total = UsageTotals.Zero;
        for (var i = 0; i < count; i++)
        {
            var cells = byDay[i];
            var dayTotal = UsageTotals.Zero;
            foreach (var cell in cells?.Values ?? Enumerable.Empty<UsageTotals>())
            {
                dayTotal = dayTotal.Add(cell);
            }

            total = total.Add(dayTotal);
            days[i] = new UsageSeriesDay(from.AddDays(i), UsageBuckets.Start(starts[i]), UsageBuckets.Start(starts[i + 1]), dayTotal,
                cells ?? (IReadOnlyDictionary<string, UsageTotals>)ReadOnlyDictionary<string, UsageTotals>.Empty);
        }

        var groups = groupTotals
            .OrderByDescending(g => g.Value.Totals.CostNanos)
            .ThenByDescending(g => g.Value.Totals.Requests)
            .ThenBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => new UsageSeriesGroup(g.Key, Label(groupBy, g.Key, g.Value.Name), g.Value.Totals))
            .ToList();
        return new UsageSeries(from, to, zone, groupBy, Distinct(groups), days, total, dataThrough);
    }

    /// <summary>The models, keys and app titles used in the local days <paramref name="from"/> to <paramref name="to"/>, most used first (at most <see cref="MaxChoices"/> each).</summary>
    public Task<UsageFilterChoices> GetFilterChoicesAsync(string accountId, DateOnly from, DateOnly to, TimeZoneInfo zone,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(zone);
        CheckDays(from, to);
        return store.GetFilterChoicesAsync(accountId, UsageTime.DayStartBucket(from, zone), UsageTime.DayStartBucket(to.AddDays(1), zone), MaxChoices,
            cancellationToken);
    }

    /// <summary>When the account's newest call was recorded (the page prints it as "data through 14:05" in the account's zone); null: no calls yet.</summary>
    public Task<DateTimeOffset?> GetDataThroughAsync(string accountId, CancellationToken cancellationToken) =>
        store.GetNewestCallAsync(accountId, cancellationToken);

    /// <summary>
    /// Writes the account's calls matching <paramref name="filter"/>, newest first, as CSV (<see cref="UsageCsv"/>) to
    /// <paramref name="output"/> as they are read, a page at a time, at most <see cref="MaxExportRows"/> rows. The
    /// filter is checked before anything is written, so a 400 can still be answered.
    /// </summary>
    public async Task<UsageExport> ExportCsvAsync(string accountId, UsageCallFilter filter, TimeZoneInfo zone, Stream output,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(zone);
        var first = Query(accountId, filter, null, ExportPageSize);
        return await UsageCsv.WriteAsync(ReadAllAsync(first, cancellationToken), zone, output, MaxExportRows, cancellationToken);
    }

    private async IAsyncEnumerable<UsageCall> ReadAllAsync(UsageCallQuery query,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var next = query; ;)
        {
            var page = await store.GetCallsAsync(next, cancellationToken);
            foreach (var call in page.Calls)
            {
                yield return call;
            }

            if (page.Next is not { } after)
            {
                yield break;
            }

            next = next with { After = after };
        }
    }

    private static UsageCallQuery Query(string accountId, UsageCallFilter filter, UsageCallPosition? after, int limit)
    {
        Check(filter.KeyId, "key_id", MaxKeyIdLength);
        Check(filter.Model, "model", MaxModelLength);
        Check(filter.App, "app", MaxAppLength);
        if (filter.From is { } from && filter.To is { } to && from > to)
        {
            throw ApiException.BadRequest("from must not be after to", "from");
        }

        return new UsageCallQuery(accountId, filter.KeyId, filter.Model, filter.App, filter.From, filter.To, after, limit);
    }

    private static void Check(string? value, string name, int maxLength)
    {
        if (value is not null && (value.Length == 0 || value.Length > maxLength))
        {
            throw ApiException.BadRequest($"{name} must be 1 to {maxLength} characters", name);
        }
    }

    private static void CheckDays(DateOnly from, DateOnly to)
    {
        if (from < FirstDate || from > LastDate)
        {
            throw ApiException.BadRequest($"from must be between {FirstDate:yyyy-MM-dd} and {LastDate:yyyy-MM-dd}", "from");
        }

        if (from > to)
        {
            throw ApiException.BadRequest("from must not be after to", "from");
        }

        if (to.DayNumber - from.DayNumber + 1 > MaxSeriesDays)
        {
            throw ApiException.BadRequest($"to may be at most {MaxSeriesDays - 1} days after from (at most {MaxSeriesDays} days)", "to");
        }
    }

    private static string Label(UsageSeriesGrouping groupBy, string id, string? name) => groupBy switch
    {
        UsageSeriesGrouping.Key => string.IsNullOrWhiteSpace(name) ? id : name,
        UsageSeriesGrouping.App => id.Length == 0 ? "(no app)" : id,
        _ => id,
    };

    /// <summary>Two keys may share a name: those labels get the key id, so a legend never shows two alike.</summary>
    private static List<UsageSeriesGroup> Distinct(List<UsageSeriesGroup> groups)
    {
        var duplicates = groups.GroupBy(g => g.Label, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        return duplicates.Count == 0
            ? groups
            : groups.Select(g => duplicates.Contains(g.Label) && g.Label != g.Id ? g with { Label = $"{g.Label} ({g.Id})" } : g).ToList();
    }
}

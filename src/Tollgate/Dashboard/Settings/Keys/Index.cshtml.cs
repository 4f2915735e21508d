using System.Text;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tollgate.ApiKeys;
using Tollgate.Models;
using Tollgate.Usage;

namespace Tollgate.Dashboard.Settings.Keys;

/// <summary>
/// Settings &gt; API Keys: the keys, a page at a time (newest first, searched and filtered in storage, spend read for the
/// page's keys only), key hygiene with bulk disable and delete for owners and admins, and "check a key".
/// </summary>
internal sealed class KeysModel(ApiKeyService keys, IUsageStore usage, ModelCatalog catalog, KeyCheckLimiter checkLimiter, TimeProvider time)
    : DashboardPage
{
    public const int PageSize = 50;

    public IReadOnlyList<KeyRow> Rows { get; private set; } = [];

    public KeyHygiene? Hygiene { get; private set; }

    public string? Search { get; private set; }

    public string Status { get; private set; } = "all";

    public string? After { get; private set; }

    public string? NextCursor { get; private set; }

    public CheckOutcome? CheckResult { get; private set; }

    public string ModelId => catalog.Models.Any(m => m.Id == DemoSettings.ModelId) ? DemoSettings.ModelId : catalog.Models.Count > 0 ? catalog.Models[0].Id : DemoSettings.ModelId;

    /// <summary>Owners and admins act on many keys at once; members one at a time.</summary>
    public bool MayBulkEdit => Account.IsAdmin;

    public async Task<IActionResult> OnGetAsync(string? q, string? status, string? after)
    {
        if (!await LoadAsync(q, status, after))
        {
            return BadRequestPage();
        }

        return Page();
    }

    public async Task<IActionResult> OnPostCheckAsync(string? secret)
    {
        await LoadAsync(null, null, null);
        using var lease = checkLimiter.Acquire(Account.Id);
        if (!lease.IsAcquired)
        {
            CheckResult = new CheckOutcome(false, "Too many checks. Wait a minute and try again.", "alert-warn");
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            return Page();
        }

        var match = secret is { Length: > 0 and <= 200 } ? await keys.CheckAsync(secret.Trim(), HttpContext.RequestAborted) : null;
        CheckResult = match switch
        {
            null => new CheckOutcome(false, "Not a valid key: unknown, mistyped, disabled, expired or deleted.", "alert-danger"),
            { Key.AccountId: var owner } when owner != Account.Id => new CheckOutcome(true, "A valid key, but not a key of this account.", "alert-info"),
            { IsPreviousSecret: true } m => new CheckOutcome(true, $"Valid: the previous secret of \"{m.Key.Name}\" ({m.Key.Label}), still in its rotation grace period.", "alert-ok"),
            var m => new CheckOutcome(true, $"Valid: your key \"{m.Key.Name}\" ({m.Key.Label}).", "alert-ok"),
        };
        return Page();
    }

    public async Task<IActionResult> OnPostBulkAsync(string? operation, string[]? ids, bool confirmed)
    {
        if (!MayBulkEdit)
        {
            return Forbid(DashboardSession.Scheme);
        }

        var selected = (ids ?? []).Where(id => id is { Length: <= 64 }).Distinct(StringComparer.Ordinal).Take(PageSize * 4).ToArray();
        if (operation is not ("disable" or "delete") || selected.Length == 0)
        {
            Notice = "Select at least one key first.";
            return RedirectToPage();
        }

        if (operation == "delete" && !confirmed)
        {
            // Deleting cannot be undone: one more page that names the keys, which works without JavaScript.
            return RedirectToPage("Delete", new { id = "selected", ids = selected });
        }

        var done = 0;
        foreach (var id in selected)
        {
            try
            {
                if (operation == "delete")
                {
                    await keys.DeleteAsync(Account.Id, caller: null, id, HttpContext.RequestAborted);
                }
                else
                {
                    await keys.UpdateAsync(Account.Id, caller: null, id, new ApiKeyChanges { Disabled = true }, HttpContext.RequestAborted);
                }

                done++;
            }
            catch (Http.ApiException exception) when (exception.StatusCode == StatusCodes.Status404NotFound)
            {
                // Another account's id, or one already gone: nothing to do, and nothing to say about it.
            }
        }

        Notice = $"{(operation == "delete" ? "Deleted" : "Disabled")} {done} key{(done == 1 ? "" : "s")}.";
        return RedirectToPage();
    }

    public string PageLink(string? cursor)
    {
        var query = new List<string>();
        if (Search is not null)
        {
            query.Add("q=" + Uri.EscapeDataString(Search));
        }

        if (Status != "all")
        {
            query.Add("status=" + Status);
        }

        if (cursor is not null)
        {
            query.Add("after=" + cursor);
        }

        return "/settings/keys" + (query.Count > 0 ? "?" + string.Join('&', query) : "");
    }

    private async Task<bool> LoadAsync(string? q, string? status, string? after)
    {
        Search = string.IsNullOrWhiteSpace(q) ? null : q.Trim()[..Math.Min(q.Trim().Length, ApiKeyService.MaxSearchLength)];
        Status = status is "active" or "disabled" or "expired" ? status : "all";
        KeyCursor? cursor = null;
        if (after is not null && !TryDecode(after, out cursor))
        {
            return false;
        }

        After = after;
        var filter = Enum.Parse<KeyStatusFilter>(Status, ignoreCase: true);
        var page = await keys.ListPageAsync(Account.Id, new KeyListQuery(Search, filter, cursor, PageSize + 1), HttpContext.RequestAborted);
        var shown = page.Take(PageSize).ToArray();
        NextCursor = page.Count > PageSize ? Encode(new KeyCursor(shown[^1].CreatedAt, shown[^1].Id)) : null;
        var now = time.GetUtcNow();
        var spends = await usage.GetKeySpendsAsync(Account.Id, shown.Select(k => k.Id).ToArray(), now, HttpContext.RequestAborted);
        Rows = [.. shown.Select(k => new KeyRow(k, spends.GetValueOrDefault(k.Id, Tollgate.Credits.KeySpend.None), now))];
        Hygiene = await keys.GetHygieneAsync(Account.Id, KeyRow.UnusedAfter, HttpContext.RequestAborted);
        return true;
    }

    private PageResult BadRequestPage()
    {
        Response.StatusCode = StatusCodes.Status400BadRequest;
        Notice = null;
        Rows = [];
        CheckResult = new CheckOutcome(false, "That page link is not valid any more; start again from the first page.", "alert-danger");
        return Page();
    }

    internal static string Encode(KeyCursor cursor) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{cursor.CreatedAt.ToUnixTimeMilliseconds()}.{cursor.Id}")).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    internal static bool TryDecode(string text, out KeyCursor? cursor)
    {
        cursor = null;
        if (text.Length is 0 or > 120)
        {
            return false;
        }

        try
        {
            var padded = text.Replace('-', '+').Replace('_', '/');
            padded += new string('=', (4 - padded.Length % 4) % 4);
            var parts = Encoding.UTF8.GetString(Convert.FromBase64String(padded)).Split('.', 2);
            if (parts.Length == 2 && long.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var ms) &&
                ms is >= 0 and < 253402300800000 && parts[1].StartsWith("key_", StringComparison.Ordinal) && parts[1].Length <= 64)
            {
                cursor = new KeyCursor(DateTimeOffset.FromUnixTimeMilliseconds(ms), parts[1]);
                return true;
            }
        }
        catch (FormatException)
        {
        }

        return false;
    }

    internal sealed record CheckOutcome(bool Valid, string Message, string Css);
}

/// <summary>"Check a key" is limited per account (10 a minute), so the box is no way to guess keys.</summary>
internal sealed class KeyCheckLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter = PartitionedRateLimiter.Create<string, string>(account =>
        RateLimitPartition.GetFixedWindowLimiter(account, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = 10,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    public RateLimitLease Acquire(string accountId) => _limiter.AttemptAcquire(accountId);

    public void Dispose() => _limiter.Dispose();
}

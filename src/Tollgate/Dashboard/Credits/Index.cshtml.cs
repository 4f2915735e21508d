using Microsoft.AspNetCore.Mvc;
using Tollgate.Accounts;
using Tollgate.ApiKeys;
using Tollgate.Credits;

namespace Tollgate.Dashboard.Credits;

/// <summary>
/// Credits: the balance, what this instance holds reserved for calls in flight, and the ledger (grants, charges,
/// adjustments), newest first, a page at a time with an id cursor; one index range read per page, however long the ledger.
/// </summary>
internal sealed class CreditsModel(IBillingStore billing, CreditLedger ledger, IApiKeyStore keys, IAccountStore accounts) : DashboardPage
{
    public const int PageSize = 50;

    public AccountCredits Credits { get; private set; } = new(0, 0, 0);

    public long ReservedNanos { get; private set; }

    public IReadOnlyList<LedgerEntry> Entries { get; private set; } = [];

    public string Filter { get; private set; } = "all";

    public long? Before { get; private set; }

    public long? NextBefore { get; private set; }

    /// <summary>Key names and actor labels for the page's lines.</summary>
    public IReadOnlyDictionary<string, string> Names { get; private set; } = new Dictionary<string, string>();

    public async Task<IActionResult> OnGetAsync(string? kind, string? before)
    {
        Filter = kind is "charges" or "credits" ? kind : "all";
        if (before is not null)
        {
            if (!long.TryParse(before, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var id) || id <= 0)
            {
                return BadRequest();
            }

            Before = id;
        }

        var cancellation = HttpContext.RequestAborted;
        Credits = await billing.GetCreditsAsync(Account.Id, cancellation);
        ReservedNanos = ledger.ReservedFor(Account.Id);
        var filter = Filter switch { "charges" => LedgerFilter.Charges, "credits" => LedgerFilter.Credits, _ => LedgerFilter.All };
        var page = await billing.ListLedgerAsync(Account.Id, filter, Before, PageSize + 1, cancellation);
        Entries = [.. page.Take(PageSize)];
        NextBefore = page.Count > PageSize ? Entries[^1].Id : null;

        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var keyId in Entries.Select(e => e.KeyId).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            if (await keys.GetAsync(Account.Id, keyId, cancellation) is { } key)
            {
                names[keyId] = key.Name;
            }
        }

        foreach (var actor in Entries.Select(e => e.Actor).Where(a => a.StartsWith("acc_", StringComparison.Ordinal)).Distinct(StringComparer.Ordinal))
        {
            names[actor] = await accounts.FindByIdAsync(actor, cancellation) is { } who ? who.DisplayName : "a deleted account";
        }

        Names = names;
        return Page();
    }

    /// <summary>Who wrote a line, for people.</summary>
    public string ActorLabel(LedgerEntry entry) => entry.Actor switch
    {
        "gateway" => "API call",
        "cli" => "command line",
        "signup" => "sign-up credit",
        var id when Names.TryGetValue(id, out var name) => name,
        var other => other,
    };

    public static string KindLabel(string kind) => kind switch
    {
        "grant" => "Grant",
        "charge" => "Charge",
        "refund" => "Refund",
        "adjustment" => "Adjustment",
        _ => kind,
    };

    public static string KindBadge(string kind) => kind switch
    {
        "grant" or "refund" => "badge-ok",
        "adjustment" => "badge-warn",
        _ => "badge-muted",
    };

    public string PageLink(long? before) =>
        "/credits" + (Filter == "all" && before is null ? "" : "?" + string.Join('&',
            new[] { Filter == "all" ? null : "kind=" + Filter, before is { } b ? "before=" + b.ToString(System.Globalization.CultureInfo.InvariantCulture) : null }
                .OfType<string>()));
}

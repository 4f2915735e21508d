using Tollgate.Accounts;
using Tollgate.Audit;

namespace Tollgate.Credits;

/// <summary>
/// An owner or admin grants credits (or adjusts them down): the ledger line, with its note, and the audit entry the admin
/// pages show. The API's <c>POST /api/v1/admin/credits</c> and the dashboard's Admin › Grant credits both come here.
/// </summary>
internal sealed class CreditGrants(CreditLedger ledger, AuditLog audit)
{
    public const decimal MaxGrantUsd = 1_000_000m;
    public const int MaxNoteLength = 500;

    /// <summary>A USD amount as granted: exactly as written (never rounded), not 0, at most <see cref="MaxGrantUsd"/> either way.</summary>
    /// <exception cref="ArgumentException">The amount cannot be granted; the message says why.</exception>
    public static long ToGrantNanos(decimal amount)
    {
        if (Math.Abs(amount) > MaxGrantUsd)
        {
            throw new ArgumentException($"amount must be between -{MaxGrantUsd:0} and {MaxGrantUsd:0} USD", nameof(amount));
        }

        // Granted exactly as written: an amount finer than a nano-dollar would be silently rounded.
        var scaled = amount * Money.NanosPerUsd;
        if (scaled != decimal.Truncate(scaled))
        {
            throw new ArgumentException("amount must have at most 9 decimal places (whole nano-dollars)", nameof(amount));
        }

        return scaled == 0 ? throw new ArgumentException("amount must not be 0", nameof(amount)) : (long)scaled;
    }

    /// <exception cref="UnauthorizedAccessException">The actor is not an owner or admin.</exception>
    public async Task<AccountCredits> GrantAsync(Account actor, Account target, long amountNanos, string? note, string? reference,
        CancellationToken cancellationToken)
    {
        if (!actor.IsAdmin)
        {
            throw new UnauthorizedAccessException("Only owners and admins grant credits");
        }

        var credits = await ledger.GrantAsync(target.Id, amountNanos, actor: actor.Id, reference, note, cancellationToken);
        await audit.RecordAsync(actor.Id, amountNanos >= 0 ? "credits.grant" : "credits.adjust", target.Id, reference,
            $"{(amountNanos >= 0 ? "granted" : "adjusted by")} {Money.Format(amountNanos)}{(string.IsNullOrEmpty(note) ? "" : ": " + note)}",
            CancellationToken.None);
        return credits;
    }
}

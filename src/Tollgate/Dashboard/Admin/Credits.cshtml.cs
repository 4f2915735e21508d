using System.Globalization;
using Microsoft.AspNetCore.Mvc;
using Tollgate.Accounts;
using Tollgate.Audit;
using Tollgate.Credits;

namespace Tollgate.Dashboard.Admin;

/// <summary>
/// Admin › Grant credits: add credits to an account, or adjust them down with a negative amount, with a note that goes
/// in its ledger; the grant is in the audit log, and the recent grants are listed below the form.
/// </summary>
internal sealed class GrantCreditsModel(AccountService accounts, CreditGrants grants, AuditLog audit) : DashboardPage
{
    [BindProperty]
    public GrantForm Form { get; set; } = new();

    public Dictionary<string, string> Errors { get; } = new(StringComparer.Ordinal);

    public IReadOnlyList<AuditEntry> Recent { get; private set; } = [];

    internal sealed class GrantForm
    {
        public string? Email { get; set; }

        public string? Amount { get; set; }

        public string? Note { get; set; }
    }

    public async Task OnGetAsync(string? email)
    {
        Form.Email = email is { Length: <= 254 } ? email : null;
        Recent = await audit.ListAsync(null, null, 20, HttpContext.RequestAborted, actionPrefix: "credits.");
    }

    public async Task<IActionResult> OnPostAsync()
    {
        var email = Form.Email?.Trim();
        var target = email is { Length: > 0 and <= 254 } ? await accounts.FindByEmailAsync(email, HttpContext.RequestAborted) : null;
        if (target is null)
        {
            Errors["Email"] = string.IsNullOrEmpty(email) ? "Enter the e-mail address of the account." : "No account has this e-mail address.";
        }

        long nanos = 0;
        if (!decimal.TryParse(Form.Amount?.Trim().TrimStart('$'), NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture,
                out var usd))
        {
            Errors["Amount"] = "Enter an amount in US dollars, such as 25 or 2.50 (negative to adjust down).";
        }
        else
        {
            try
            {
                nanos = CreditGrants.ToGrantNanos(usd);
            }
            catch (ArgumentException invalid)
            {
                Errors["Amount"] = char.ToUpperInvariant(invalid.Message[0]) + invalid.Message.Split(" (Parameter", 2)[0][1..] + ".";
            }
        }

        var note = Form.Note?.Trim();
        if (string.IsNullOrEmpty(note))
        {
            Errors["Note"] = "Say why, for the ledger: \"welcome credit\", \"invoice 2026-114\".";
        }
        else if (note.Length > CreditGrants.MaxNoteLength)
        {
            Errors["Note"] = $"The note must be at most {CreditGrants.MaxNoteLength} characters.";
        }

        if (Errors.Count > 0)
        {
            Response.StatusCode = StatusCodes.Status400BadRequest;
            Recent = await audit.ListAsync(null, null, 20, HttpContext.RequestAborted, actionPrefix: "credits.");
            return Page();
        }

        var credits = await grants.GrantAsync(Account, target!, nanos, note, reference: Http.RequestId.Get(HttpContext), HttpContext.RequestAborted);
        Notice = $"{(nanos > 0 ? "Granted" : "Adjusted")} {DashboardFormat.Usd(nanos)} {(nanos > 0 ? "to" : "for")} {target!.DisplayName} ({target.Email}). Their balance is now {DashboardFormat.Usd(credits.BalanceNanos)}.";
        return RedirectToPage();
    }
}

using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using Tollgate.Accounts;

namespace Tollgate.Dashboard;

/// <summary>
/// Sign-up: with an invitation link (any mode; the first-run owner link is one), or without one when
/// registration is open. The account starts with the configured initial credits and is signed in.
/// </summary>
internal sealed class SignUpModel(AccountService accounts, InviteService invites, IOptions<DashboardOptions> options) : PageModel
{
    public string? Invite { get; private set; }

    public string? InvitedEmail { get; private set; }

    public bool IsOwnerSetup { get; private set; }

    public bool InviteRefused { get; private set; }

    public bool CanSignUp { get; private set; }

    public bool Closed => options.Value.IsClosed;

    public string? Email { get; private set; }

    public string? Name { get; private set; }

    public string? Error { get; private set; }

    public async Task<IActionResult> OnGetAsync(string? invite)
    {
        if (HttpContext.FindAccount() is not null)
        {
            return Redirect("/");
        }

        await LoadAsync(invite);
        return Page();
    }

    public async Task<IActionResult> OnPostAsync(string? invite, string? email, string? name, string? password, string? confirm)
    {
        var found = await LoadAsync(invite);
        if (!CanSignUp)
        {
            Response.StatusCode = StatusCodes.Status403Forbidden;
            return Page();
        }

        Email = email is { Length: <= 254 } ? email : null;
        Name = name is { Length: <= 100 } ? name : null;
        if ((password ?? "") != (confirm ?? ""))
        {
            return Refuse("The two passwords are not the same.");
        }

        try
        {
            var account = found is not null
                ? await accounts.CreateFromInviteAsync(found, InvitedEmail ?? email ?? "", name, password ?? "", HttpContext.RequestAborted)
                : (await accounts.CreateAsync(email ?? "", name, AccountRole.Member, password ?? "", HttpContext.RequestAborted)).Account;
            await DashboardSession.SignInAsync(HttpContext, account, persistent: false);
            TempData["Notice"] = $"Welcome, {account.DisplayName}. Create an API key to make your first call.";
            return Redirect("/");
        }
        catch (ArgumentException exception)
        {
            return Refuse(exception.Message.Split(" (Parameter", 2)[0]);
        }
    }

    private PageResult Refuse(string message)
    {
        Error = message;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }

    private async Task<Invite?> LoadAsync(string? token)
    {
        if (!string.IsNullOrEmpty(token))
        {
            var invite = await invites.FindUsableAsync(token, HttpContext.RequestAborted);
            // A closed Tollgate takes no new accounts: only the first-run owner link still works.
            if (invite is null || (options.Value.IsClosed && invite.CreatedBy is not null))
            {
                InviteRefused = true;
                return null;
            }

            Invite = token;
            InvitedEmail = invite.Email;
            IsOwnerSetup = invite.Role == AccountRole.Owner && invite.CreatedBy is null;
            CanSignUp = true;
            return invite;
        }

        CanSignUp = options.Value.IsOpen;
        return null;
    }
}

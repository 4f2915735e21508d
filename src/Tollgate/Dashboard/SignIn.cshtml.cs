using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using Tollgate.Accounts;

namespace Tollgate.Dashboard;

/// <summary>
/// E-mail and password. Every refusal reads the same whether or not the address has an account, and the
/// lockout message is given for unknown addresses too.
/// </summary>
internal sealed class SignInModel(PasswordSignIn signIn, IOptions<DashboardOptions> options, TimeProvider time) : PageModel
{
    public const string InvalidMessage = "That e-mail address and password do not match an account.";

    public string? Email { get; private set; }

    public string? ReturnUrl { get; private set; }

    public string? Error { get; private set; }

    public string? OidcName => options.Value.Oidc.Enabled ? options.Value.Oidc.DisplayName : null;

    public bool CanSignUp => options.Value.IsOpen;

    public void OnGet(string? returnUrl, string? error)
    {
        ReturnUrl = LocalOrNull(returnUrl);
        Error = error switch
        {
            null => null,
            "oidc_no_account" => "Your single sign-on account has no Tollgate account yet. Ask an admin for an invitation.",
            "oidc_unverified" => "Your single sign-on provider did not confirm your e-mail address.",
            "oidc_disabled" => "This account is disabled. Ask an admin of this Tollgate.",
            _ => "Single sign-on did not complete. Try again.",
        };
    }

    public async Task<IActionResult> OnPostAsync(string? email, string? password, bool remember, string? returnUrl)
    {
        Email = email is { Length: <= 254 } ? email : null;
        ReturnUrl = LocalOrNull(returnUrl);
        var result = await signIn.SignInAsync(email, password, HttpContext.Connection.RemoteIpAddress, HttpContext.RequestAborted);
        switch (result.Outcome)
        {
            case PasswordSignIn.Outcome.Success:
                await HttpContext.SignOutAsync(DashboardSession.Scheme);
                await DashboardSession.SignInAsync(HttpContext, result.Account!, remember);
                return LocalRedirect(ReturnUrl ?? "/");
            case PasswordSignIn.Outcome.LockedOut:
                var minutes = Math.Max(1, (int)Math.Ceiling((result.LockedUntil!.Value - time.GetUtcNow()).TotalMinutes));
                Error = $"Too many failed sign-ins for this e-mail address. Try again in {minutes} minute{(minutes == 1 ? "" : "s")}.";
                Response.StatusCode = StatusCodes.Status429TooManyRequests;
                break;
            case PasswordSignIn.Outcome.RateLimited:
                Error = "Too many sign-in attempts from your network. Wait a minute and try again.";
                Response.StatusCode = StatusCodes.Status429TooManyRequests;
                Response.Headers.RetryAfter = "60";
                break;
            case PasswordSignIn.Outcome.Disabled:
                Error = "This account is disabled. Ask an admin of this Tollgate.";
                Response.StatusCode = StatusCodes.Status403Forbidden;
                break;
            default:
                Error = InvalidMessage;
                Response.StatusCode = StatusCodes.Status401Unauthorized;
                break;
        }

        return Page();
    }

    /// <summary>Only a path on this site: never an open redirect.</summary>
    internal static string? LocalOrNull(string? url) =>
        url is { Length: > 0 and <= 2000 } && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) && !url.Contains('\\', StringComparison.Ordinal)
            ? url
            : null;
}

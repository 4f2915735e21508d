using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Tollgate.Accounts;

namespace Tollgate.Dashboard;

/// <summary>
/// The dashboard's session: an encrypted, HttpOnly cookie holding the account id and its security stamp.
/// Every request checks both against storage, so a new password, "sign out everywhere" or a disabled
/// account ends the session at once, on every instance; a role change is seen on the next page.
/// </summary>
internal static class DashboardSession
{
    public const string Scheme = "Dashboard";
    public const string Policy = "dashboard";
    public const string AdminPolicy = "dashboard-admin";
    private const string StampClaim = "tollgate:stamp";

    public static ClaimsPrincipal Principal(Account account) => new(new ClaimsIdentity(
    [
        new Claim(ClaimTypes.NameIdentifier, account.Id),
        new Claim(ClaimTypes.Role, AccountRoles.ToName(account.Role)),
        new Claim(StampClaim, account.SecurityStamp),
    ], Scheme, ClaimTypes.NameIdentifier, ClaimTypes.Role));

    public static Task SignInAsync(HttpContext context, Account account, bool persistent) =>
        context.SignInAsync(Scheme, Principal(account), new AuthenticationProperties { IsPersistent = persistent, AllowRefresh = true });

    /// <summary>The signed-in account of a page behind the dashboard policy (checked against storage on this request).</summary>
    public static Account GetAccount(this HttpContext context) =>
        context.Items[typeof(Account)] as Account ?? throw new InvalidOperationException("The page does not require a signed-in account.");

    /// <summary>The signed-in account, or null on a page anyone may see.</summary>
    public static Account? FindAccount(this HttpContext context) => context.Items[typeof(Account)] as Account;

    /// <summary>Checks the cookie's account and stamp against storage on every request.</summary>
    public static async Task ValidateAsync(CookieValidatePrincipalContext context)
    {
        var principal = context.Principal;
        var id = principal?.FindFirstValue(ClaimTypes.NameIdentifier);
        var stamp = principal?.FindFirstValue(StampClaim);
        var accounts = context.HttpContext.RequestServices.GetRequiredService<AccountService>();
        var account = id is null ? null : await accounts.FindAsync(id, context.HttpContext.RequestAborted);
        if (account is null || account.Disabled || stamp is null || account.SecurityStamp.Length == 0 ||
            !System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
                System.Text.Encoding.UTF8.GetBytes(stamp), System.Text.Encoding.UTF8.GetBytes(account.SecurityStamp)))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(Scheme);
            return;
        }

        if (principal!.FindFirstValue(ClaimTypes.Role) != AccountRoles.ToName(account.Role))
        {
            context.ReplacePrincipal(Principal(account));
            context.ShouldRenew = true;
        }

        context.HttpContext.Items[typeof(Account)] = account;
    }
}

using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Tollgate.Accounts;

namespace Tollgate.Dashboard.Settings.Account;

/// <summary>Settings &gt; Account: display name, reporting time zone, password (ending other sessions), sign out everywhere.</summary>
internal sealed class AccountSettingsModel(AccountService accounts, TimeProvider time) : DashboardPage
{
    public string? ProfileError { get; private set; }

    public string? PasswordError { get; private set; }

    public DateTimeOffset Now => time.GetUtcNow();

    public async Task<IActionResult> OnPostProfileAsync(string? displayName, string? timeZone)
    {
        try
        {
            await accounts.UpdateProfileAsync(Account, displayName, timeZone, HttpContext.RequestAborted);
        }
        catch (ArgumentException exception)
        {
            ProfileError = exception.Message.Split(" (Parameter", 2)[0];
            Response.StatusCode = StatusCodes.Status400BadRequest;
            return Page();
        }

        Notice = "Profile saved.";
        return RedirectToPage();
    }

    public async Task<IActionResult> OnPostPasswordAsync(string? currentPassword, string? newPassword, string? confirmPassword)
    {
        if ((newPassword ?? "") != (confirmPassword ?? ""))
        {
            return PasswordRefused("The two new passwords are not the same.");
        }

        string stamp;
        try
        {
            stamp = await accounts.ChangePasswordAsync(Account, currentPassword ?? "", newPassword ?? "", HttpContext.RequestAborted);
        }
        catch (ArgumentException exception)
        {
            return PasswordRefused(exception.Message.Split(" (Parameter", 2)[0]);
        }

        // Every other session ends with the old stamp; this one goes on with the new.
        await DashboardSession.SignInAsync(HttpContext, Account with { SecurityStamp = stamp }, persistent: false);
        Notice = "Password changed. Every other session has been signed out.";
        return RedirectToPage();
    }

    public async Task<IActionResult> OnPostSignOutEverywhereAsync()
    {
        await accounts.EndSessionsAsync(Account.Id, HttpContext.RequestAborted);
        await HttpContext.SignOutAsync(DashboardSession.Scheme);
        return Redirect("/signin");
    }

    private PageResult PasswordRefused(string message)
    {
        PasswordError = message;
        Response.StatusCode = StatusCodes.Status400BadRequest;
        return Page();
    }
}

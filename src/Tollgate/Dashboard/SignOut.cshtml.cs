using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;

namespace Tollgate.Dashboard;

/// <summary>Sign-out is a POST (a link could sign people out from another site); a GET asks first.</summary>
internal sealed class SignOutModel : DashboardPage
{
    public async Task<IActionResult> OnPostAsync()
    {
        await HttpContext.SignOutAsync(DashboardSession.Scheme);
        return Redirect("/signin");
    }
}

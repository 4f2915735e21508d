using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Tollgate.Dashboard;

/// <summary>Where the cookie scheme sends a member who asks for an admin page: a 403, never the page.</summary>
internal sealed class ForbiddenModel : PageModel
{
    public void OnGet() => Response.StatusCode = StatusCodes.Status403Forbidden;
}

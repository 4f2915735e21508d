using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.Extensions.Options;
using Tollgate.Accounts;

namespace Tollgate.Dashboard;

/// <summary>
/// What every signed-in page has: the account (checked against storage on this request), its time zone, the
/// base URL for snippets, and a one-shot notice shown after a redirect.
/// </summary>
internal abstract class DashboardPage : PageModel
{
    /// <summary>The signed-in account.</summary>
    public Account Account => HttpContext.GetAccount();

    /// <summary>The account's reporting time zone.</summary>
    public TimeZoneInfo TimeZone => TimeZones.Find(Account.TimeZone);

    /// <summary>A message for the next page (after a redirect): kept in TempData, shown once.</summary>
    [TempData]
    public string? Notice { get; set; }

    /// <summary>The address clients use to reach this Tollgate, without a trailing slash.</summary>
    public string BaseUrl => PublicBaseUrl(HttpContext);

    internal static string PublicBaseUrl(HttpContext context)
    {
        var options = context.RequestServices.GetRequiredService<IOptions<DashboardOptions>>().Value;
        return options.PublicBaseUrl is { Length: > 0 } configured
            ? configured.TrimEnd('/')
            : $"{context.Request.Scheme}://{context.Request.Host}{context.Request.PathBase}";
    }

    /// <summary>A time in the account's zone, as pages print it.</summary>
    public string Local(DateTimeOffset time, string format = "yyyy-MM-dd HH:mm") =>
        TimeZoneInfo.ConvertTime(time, TimeZone).ToString(format, System.Globalization.CultureInfo.InvariantCulture);

    public string? Local(DateTimeOffset? time, string format = "yyyy-MM-dd HH:mm") => time is { } t ? Local(t, format) : null;
}

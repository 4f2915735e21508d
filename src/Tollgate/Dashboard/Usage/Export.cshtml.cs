using Microsoft.AspNetCore.Mvc;
using Tollgate.Http;
using Tollgate.Usage;

namespace Tollgate.Dashboard.Usage;

/// <summary>
/// The calls of the usage page's range and filters as CSV, streamed (never built whole), at most
/// <see cref="UsageService.MaxExportRows"/> rows. A header cannot follow a streamed body, so an export cut at the
/// limit ends with a last line, starting with <c>#</c>, that says so.
/// </summary>
internal sealed class ExportModel(UsageService usage, TimeProvider time) : DashboardPage
{
    public async Task<IActionResult> OnGetAsync()
    {
        UsageQuery query;
        try
        {
            query = UsageQuery.Parse(Request.Query, UsageTime.LocalDate(time.GetUtcNow(), TimeZone));
        }
        catch (ApiException exception) when (exception.StatusCode == StatusCodes.Status400BadRequest)
        {
            return BadRequest(exception.Message);
        }

        var name = $"tollgate-usage-{query.From:yyyy-MM-dd}-to-{query.To:yyyy-MM-dd}.csv";
        Response.ContentType = UsageCsv.ContentType;
        Response.Headers.ContentDisposition = $"attachment; filename=\"{name}\"";
        Response.Headers.CacheControl = "no-store";
        var export = await usage.ExportCsvAsync(Account.Id, query.Filter(TimeZone), TimeZone, Response.Body, HttpContext.RequestAborted);
        if (export.Truncated)
        {
            await Response.WriteAsync($"# cut at {UsageService.MaxExportRows} rows: narrow the range or the filters to export the rest\r\n",
                HttpContext.RequestAborted);
        }

        return new EmptyResult();
    }
}

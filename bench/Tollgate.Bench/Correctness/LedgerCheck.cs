using Microsoft.Data.Sqlite;
using Tollgate.Bench.Stack;

namespace Tollgate.Bench.Correctness;

/// <summary>
/// What Tollgate's database says after the run, next to what its clients saw: every successful
/// request recorded and charged exactly once, and the balance equal to the sum of the ledger.
/// </summary>
/// <param name="ClientOk">2xx answers the benchmark's clients received from Tollgate.</param>
/// <param name="InFlightAtStop">Requests that may have been in flight when a wrk run stopped (its connections, summed over runs): served or not, the client never saw them.</param>
internal sealed record LedgerCheck(
    long ClientOk,
    long InFlightAtStop,
    long UsageRecords,
    long UsageSucceeded,
    long UsageCancelled,
    long Charges,
    long DuplicateCharges,
    long ChargesWithoutRecord,
    long CostlyRecordsWithoutCharge,
    long ChargeSumNanos,
    long RecordCostSumNanos,
    long BalanceNanos,
    long LedgerSumNanos)
{
    /// <summary>Every record with a cost has one charge of the same amount, and no charge is orphaned or repeated.</summary>
    public bool ChargedExactlyOnce => DuplicateCharges == 0 && ChargesWithoutRecord == 0 && CostlyRecordsWithoutCharge == 0 && ChargeSumNanos == RecordCostSumNanos;

    public bool BalanceMatchesLedger => BalanceNanos == LedgerSumNanos;

    /// <summary>At least one record per answer a client saw, and no more extra records than requests cut at a run's end.</summary>
    public bool CountsMatch => UsageRecords >= ClientOk && UsageRecords <= ClientOk + InFlightAtStop;

    public bool Passed => ChargedExactlyOnce && BalanceMatchesLedger && CountsMatch;

    public static async Task<LedgerCheck> ReadAsync(string databasePath, long clientOk, long inFlightAtStop, CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken);

        async Task<long> ScalarAsync(string sql)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            command.Parameters.AddWithValue("$email", TollgateServer.Email);
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken) ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
        }

        const string Account = "(SELECT id FROM accounts WHERE email = $email)";
        return new LedgerCheck(
            clientOk,
            inFlightAtStop,
            UsageRecords: await ScalarAsync($"SELECT COUNT(*) FROM usage_records WHERE account_id = {Account}"),
            UsageSucceeded: await ScalarAsync($"SELECT COUNT(*) FROM usage_records WHERE account_id = {Account} AND status BETWEEN 200 AND 299 AND cancelled = 0"),
            UsageCancelled: await ScalarAsync($"SELECT COUNT(*) FROM usage_records WHERE account_id = {Account} AND cancelled = 1"),
            Charges: await ScalarAsync($"SELECT COUNT(*) FROM ledger WHERE account_id = {Account} AND kind = 'charge'"),
            DuplicateCharges: await ScalarAsync($"SELECT COUNT(*) FROM (SELECT reference FROM ledger WHERE account_id = {Account} AND kind = 'charge' GROUP BY reference HAVING COUNT(*) > 1)"),
            ChargesWithoutRecord: await ScalarAsync(
                $"SELECT COUNT(*) FROM ledger l WHERE l.account_id = {Account} AND l.kind = 'charge' AND NOT EXISTS (SELECT 1 FROM usage_records u WHERE u.generation_id = l.reference)"),
            CostlyRecordsWithoutCharge: await ScalarAsync(
                $"SELECT COUNT(*) FROM usage_records u WHERE u.account_id = {Account} AND u.cost_nanos > 0 AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.kind = 'charge' AND l.reference = u.generation_id)"),
            ChargeSumNanos: await ScalarAsync($"SELECT COALESCE(-SUM(amount_nanos), 0) FROM ledger WHERE account_id = {Account} AND kind = 'charge'"),
            RecordCostSumNanos: await ScalarAsync($"SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_records WHERE account_id = {Account}"),
            BalanceNanos: await ScalarAsync($"SELECT balance_nanos FROM balances WHERE account_id = {Account}"),
            LedgerSumNanos: await ScalarAsync($"SELECT COALESCE(SUM(amount_nanos), 0) FROM ledger WHERE account_id = {Account}"));
    }

    /// <summary>The check as Markdown lines, numbers included whatever the verdict.</summary>
    public IEnumerable<string> ToMarkdown()
    {
        static string Mark(bool ok) => ok ? "✅" : "❌";
        yield return "| check | figures | |";
        yield return "|---|---|---|";
        yield return $"| usage records vs answers | {ClientOk:N0} 2xx answers seen by clients; {UsageRecords:N0} usage records ({UsageSucceeded:N0} succeeded, {UsageCancelled:N0} cancelled, {UsageRecords - UsageSucceeded - UsageCancelled:N0} other); up to {InFlightAtStop:N0} requests were in flight when a wrk run stopped | {Mark(CountsMatch)} |";
        yield return $"| charged exactly once | {Charges:N0} charges; {DuplicateCharges} repeated, {ChargesWithoutRecord} without a usage record, {CostlyRecordsWithoutCharge} records with a cost but no charge; charges {ChargeSumNanos:N0} nUSD = record costs {RecordCostSumNanos:N0} nUSD | {Mark(ChargedExactlyOnce)} |";
        yield return $"| balance = sum of ledger | balance {BalanceNanos:N0} nUSD, ledger sum {LedgerSumNanos:N0} nUSD | {Mark(BalanceMatchesLedger)} |";
    }
}

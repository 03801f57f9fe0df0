"""Publication for analysts: the published warehouse and Parquet marts (`warehouse`), and the marts
for a spreadsheet (`export`)."""

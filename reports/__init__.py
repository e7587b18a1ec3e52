"""Reports for people: the daily brief (舆情日报), the shift handover (交接班), table exports."""

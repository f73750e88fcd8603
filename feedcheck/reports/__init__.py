"""What people and machines read: the report files, their rendering, Slack alerts and the progress line.
Only this layer formats money, percentages and words."""

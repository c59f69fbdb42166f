EXIT_OK = 0
EXIT_REFUSED = 1  # RingCentral or Slack said no; their code and message are printed
EXIT_USAGE = 2  # bad usage or configuration; one line names the problem

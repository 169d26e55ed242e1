// Placeholder: the protocol generator is written under issue 4.
return 0;

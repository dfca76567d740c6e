# Uses the notebook's `rsvp` table from step 4: True = yes, False = no, <NA> = no answer.
rsvp["coming"].value_counts(dropna=False)

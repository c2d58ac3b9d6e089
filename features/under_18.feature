# language: da
Egenskab: Kun borgere på 18 år og derover indgår i dataindsamlingen
  Projektbeskrivelsen (Målgruppe): kun borgere over 18 år indgår i dataindsamlingen; yngre
  borgere kan stadig få tilbuddet om en social navigatør. Alderen på henvisningsdagen
  afgør det. Er borgeren født den 29. februar, fylder borgeren år den 1. marts i år uden
  29. februar.

  Regel: Alderen på henvisningsdagen afgør, om borgeren indgår i dataindsamlingen

    Abstrakt Scenario: Født <født>, henvist <henvist>
      Givet en borger født den <født>
      Når borgeren henvises den <henvist>
      Så indgår borgeren <deltagelse>
      Og borgeren kan få tilbuddet om en social navigatør

      Eksempler:
        | født              | henvist           | deltagelse              |
        | 10. marts 2008    | 9. marts 2026     | ikke i dataindsamlingen |
        | 10. marts 2008    | 10. marts 2026    | i dataindsamlingen      |
        | 29. februar 2008  | 28. februar 2026  | ikke i dataindsamlingen |
        | 29. februar 2008  | 1. marts 2026     | i dataindsamlingen      |
        | 1. juni 1950      | 1. juni 2026      | i dataindsamlingen      |

  Regel: Et samtykke fra en borger, der var under 18 år ved henvisningen, kan ikke bruges

    Scenarie: Samtykket er skrevet under efter 18-årsdagen, men henvisningen var før
      Givet en borger født den 1. maj 2008
      Og borgeren er henvist den 1. marts 2026
      Og et journalsamtykke underskrevet den 2. maj 2026
      Og samtykket er indført i patientjournalen samme dag
      Så er en indhentning den 1. juni 2026 ikke dækket, fordi borgeren var under 18 år ved henvisningen
